"""The event feed: per user (``/api/events``, long-polling clients) and whole (``/internal/``, the hub).

Event lines are sent as stored, joined into one JSON document without parsing them again.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from common import limits
from common.schemas import EventsQuery, FeedQuery

from . import validation
from .auth import require_user, store

bp = Blueprint("events", __name__)

USER_BATCH = limits.EVENTS_BATCH  # the contract's maximum per answer
HUB_BATCH = 1000


def feed(lines: list[bytes], pos: int, more: bool) -> Response:
    """``{"events": [...], "pos": N, "more": bool}`` from raw event lines."""
    body = b'{"events":[' + b",".join(lines) + b'],"pos":%d,"more":%s}' % (pos, b"true" if more else b"false")
    return Response(body, mimetype="application/json")


@bp.get("/api/events")
def user_events():
    """The events after ``after`` that concern the caller; without ``after``, just the cursor."""
    username = require_user()
    asked = validation.query(request, EventsQuery)
    if asked.after is None:
        return feed([], store().pos, False)
    return feed(*store().events(asked.after, USER_BATCH, asked.wait, username=username))


@bp.get("/internal/events")
def all_events():
    """Every event after ``after``, for the front server's hub."""
    asked = validation.query(request, FeedQuery)
    return feed(*store().events(asked.after, HUB_BATCH, asked.wait))


@bp.get("/internal/rooms")
def all_rooms():
    """Every room with its members, as of ``pos``."""
    rooms, pos = store().rooms_snapshot()
    return jsonify(rooms=rooms, pos=pos)

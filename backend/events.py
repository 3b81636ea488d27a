"""The event feed: per user (``/api/events``, long-polling clients) and whole (``/internal/``, the hub).

Event lines are sent as stored, joined into one JSON document without parsing them again. The
whole feed wraps each line with whom it concerns (:mod:`common.feed`), from the same
:meth:`~backend.store.Store.audience` the per-user feed filters by.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from common.feed import FRONT_HEADER, addressed_item, front_id
from common.limits import DEEP_CATCH_UP, EVENTS_BATCH
from common.schemas import EventsQuery, FeedQuery

from . import validation
from .auth import limit, require_user, store

bp = Blueprint("events", __name__)

# Events per answer of the hub's feed: it reads the whole log, so twice a user's batch.
HUB_BATCH = 1000


def feed(items: list[bytes], pos: int, more: bool) -> Response:
    """``{"events": [...], "pos": N, "more": bool}`` from already encoded items."""
    body = b'{"events":[' + b",".join(items) + b'],"pos":%d,"more":%s}' % (pos, b"true" if more else b"false")
    return Response(body, mimetype="application/json")


@bp.get("/api/events")
def user_events():
    """The events after ``after`` that concern the caller; without ``after``, just the cursor.

    A deep catch-up (``after`` more than DEEP_CATCH_UP positions behind the log) spends one of
    the caller's catch-up allowance: each is cheap (the feed reads only the caller's rooms), but
    one account must not make thousands of them at once.
    """
    username = require_user()
    asked = validation.query(request, EventsQuery)
    if asked.after is None:
        return feed([], store().pos, False)
    if store().pos - asked.after > DEEP_CATCH_UP:
        limit("catch_ups", username)
    return feed(*store().events(asked.after, EVENTS_BATCH, asked.wait, username=username))


@bp.get("/internal/events")
def all_events():
    """Every event after ``after``, each as ``{"event": ..., "users": ...}``, for the front server's hub.

    A wait sleeps through the events handed to the asking front server (:mod:`backend.handoffs`).
    """
    asked = validation.query(request, FeedQuery)
    front = front_id(request.headers.get(FRONT_HEADER))
    addressed, pos, more = store().addressed_events(asked.after, HUB_BATCH, asked.wait, front)
    items = [addressed_item(line, users) for line, users in addressed]
    return feed(items, pos, more)


@bp.get("/internal/rooms")
def all_rooms():
    """Every room with its members, as of ``pos``."""
    rooms, pos = store().rooms_snapshot()
    return jsonify(rooms=rooms, pos=pos)

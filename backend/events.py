"""The event feed: per user (``/api/events``, long-polling clients) and whole (``/internal/``, the hub).

Event lines are sent as stored, joined into one JSON document without parsing them again. The
whole feed wraps each line with whom it concerns (:mod:`common.feed`), from the same
:meth:`~backend.store.Store.audience` the per-user feed filters by.
"""

from __future__ import annotations

import orjson
from flask import Blueprint, Response, jsonify, request

from common.limits import EVENTS_BATCH, LONG_POLL_MAX_WAIT

from . import validation
from .auth import require_user, store

bp = Blueprint("events", __name__)

# Events per answer of the hub's feed: it reads the whole log, so twice a user's batch.
HUB_BATCH = 1000


def feed(items: list[bytes], pos: int, more: bool) -> Response:
    """``{"events": [...], "pos": N, "more": bool}`` from already encoded items."""
    body = b'{"events":[' + b",".join(items) + b'],"pos":%d,"more":%s}' % (pos, b"true" if more else b"false")
    return Response(body, mimetype="application/json")


@bp.get("/api/events")
def user_events():
    """The events after ``after`` that concern the caller; without ``after``, just the cursor."""
    username = require_user()
    after = validation.int_arg(request.args, "after", 0)
    wait = validation.number_arg(request.args, "wait", 0, LONG_POLL_MAX_WAIT)
    if after is None:
        return feed([], store().pos, False)
    return feed(*store().events(after, EVENTS_BATCH, wait, username=username))


@bp.get("/internal/events")
def all_events():
    """Every event after ``after``, each as ``{"event": ..., "users": ...}``, for the front server's hub."""
    after = validation.int_arg(request.args, "after", 0, default=0)
    wait = validation.number_arg(request.args, "wait", 0, LONG_POLL_MAX_WAIT)
    addressed, pos, more = store().addressed_events(after, HUB_BATCH, wait)
    items = [b'{"event":%s,"users":%s}' % (line, orjson.dumps(users)) for line, users in addressed]
    return feed(items, pos, more)


@bp.get("/internal/rooms")
def all_rooms():
    """Every room with its members, as of ``pos``."""
    rooms, pos = store().rooms_snapshot()
    return jsonify(rooms=rooms, pos=pos)

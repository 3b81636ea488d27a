"""Search: the messages a caller may read that match their words, newest first (docs/api.md)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from common.limits import SEARCH_WAIT
from common.schemas import SearchQuery

from . import fts, validation
from .auth import require_user, store

bp = Blueprint("search", __name__)

# Below this share of all messages, the rooms searched are named in the FTS5 query (see search()).
ROOMS_IN_QUERY_BELOW = 0.5


@bp.get("/api/search")
def search():
    """``{"results": [message], "more", "partial"}``: one page of matches, newest first."""
    username = require_user()
    asked = validation.query(request, SearchQuery)
    chat = store()
    # The log as it is now: a message the caller has just sent is found, waiting for the index
    # to reach it (a few milliseconds), unless the index is being rebuilt: then it says partial.
    target = chat.pos
    rooms, share = chat.search_rooms(username, asked.room)
    readable = set(rooms)
    partial = not chat.search.wait_for(target, SEARCH_WAIT)
    # Rooms holding most of the messages are kept by looking each match's room up in memory:
    # naming them in the FTS5 query would intersect with a doclist as long as the index. Rooms
    # holding few are named in the query, so their matches are found without skipping others'.
    by_query = share < ROOMS_IN_QUERY_BELOW
    expression = fts.match_expression(asked.q, rooms if by_query else None)
    keep = None if by_query else (lambda pos: chat.room_of(pos) in readable)
    found = chat.search.search(expression, asked.before, asked.limit + 1, keep) if expression else []
    results = []
    for pos in found[: asked.limit]:
        message = chat.message_at(pos)
        # The index follows the log: a message deleted a moment ago may still be in it.
        if message is not None and not message.get("deleted") and message["room"] in readable:
            results.append(message)
    return jsonify(results=results, more=len(found) > asked.limit, partial=partial)

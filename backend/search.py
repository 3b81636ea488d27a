"""Search: the messages a caller may read that match their words, newest first (docs/api.md)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from common.limits import SEARCH_WAIT
from common.schemas import SearchQuery

from . import fts, validation
from .auth import require_user, store

bp = Blueprint("search", __name__)


@bp.get("/api/search")
def search():
    """``{"results": [message], "more", "partial"}``: one page of matches, newest first."""
    username = require_user()
    asked = validation.query(request, SearchQuery)
    chat = store()
    # The log as it is now: a message the caller has just sent is found, waiting for the index
    # to reach it (a few milliseconds), unless the index is being rebuilt: then it says partial.
    target = chat.pos
    rooms, everywhere = chat.search_rooms(username, asked.room)
    partial = not chat.search.wait_for(target, SEARCH_WAIT)
    expression = fts.match_expression(asked.q, None if everywhere else rooms)
    found = chat.search.search(expression, asked.before, asked.limit + 1) if expression else []
    readable = set(rooms)
    results = []
    for pos in found[: asked.limit]:
        message = chat.message_at(pos)
        # The index follows the log: a message deleted a moment ago may still be in it.
        if message is not None and not message.get("deleted") and message["room"] in readable:
            results.append(message)
    return jsonify(results=results, more=len(found) > asked.limit, partial=partial)

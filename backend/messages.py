"""A room's history, and posting to it."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from . import validation
from .auth import limit, require_user, store

bp = Blueprint("messages", __name__)


@bp.get("/api/rooms/<room_id>/messages")
def history(room_id: str):
    """One page of history, oldest first: after SEQ, just before SEQ, or the latest."""
    username = require_user()
    after = validation.int_arg(request.args, "after", 0)
    before = validation.int_arg(request.args, "before", 0)
    if after is not None and before is not None:
        raise validation.invalid("Give 'after' or 'before', not both.")
    page_size = validation.int_arg(request.args, "limit", 1, 200, default=50)
    messages, last_seq = store().messages(username, room_id, after, before, page_size)
    return jsonify(messages=messages, last_seq=last_seq)


@bp.post("/api/rooms/<room_id>/messages")
def post(room_id: str):
    """Store a message; a repeated ``client_id`` answers the first message and stores nothing."""
    username = require_user()
    body = validation.json_body(request)
    text = validation.text_field(body, "text", 1, 4000)
    client_id = validation.client_id(body)
    message, created = store().post_message(
        username, room_id, text, client_id, admit=lambda: limit("messages", username)
    )
    return jsonify(message=message), 201 if created else 200

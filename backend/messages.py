"""A room's history, and posting to it."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from common.schemas import HistoryQuery, NewMessage

from . import validation
from .auth import limit, require_user, store

bp = Blueprint("messages", __name__)


@bp.get("/api/rooms/<room_id>/messages")
def history(room_id: str):
    """One page of history, oldest first: after SEQ, just before SEQ, or the latest."""
    username = require_user()
    page = validation.query(request, HistoryQuery)
    messages, last_seq = store().messages(username, room_id, page.after, page.before, page.limit)
    return jsonify(messages=messages, last_seq=last_seq)


@bp.post("/api/rooms/<room_id>/messages")
def post(room_id: str):
    """Store a message; a repeated ``client_id`` answers the first message and stores nothing."""
    username = require_user()
    body = validation.body(request, NewMessage)
    message, created = store().post_message(
        username, room_id, body.text, body.client_id, admit=lambda: limit("messages", username)
    )
    return jsonify(message=message), 201 if created else 200

"""A room's history, posting to it, and one message: read, edit, delete, react."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from common.schemas import EditedMessage, HistoryQuery, NewMessage

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
        username,
        room_id,
        body.text,
        body.client_id,
        admit=lambda: limit("messages", username),
        reply_to=body.reply_to,
    )
    return jsonify(message=message), 201 if created else 200


# -- one message after it is sent --------------------------------------------------------------


@bp.get("/api/rooms/<room_id>/messages/<int(signed=True):seq>")
def one(room_id: str, seq: int):
    """The message as it is now."""
    return jsonify(message=store().message(require_user(), room_id, seq))


@bp.patch("/api/rooms/<room_id>/messages/<int(signed=True):seq>")
def edit(room_id: str, seq: int):
    """Replace the text of the caller's own message (within the edit window, if one is set)."""
    username = require_user()
    body = validation.body(request, EditedMessage)
    message = store().edit_message(
        username,
        room_id,
        seq,
        body.text,
        window=current_app.config["EDIT_WINDOW"],
        admit=lambda: limit("messages", username),
    )
    return jsonify(message=message)


@bp.delete("/api/rooms/<room_id>/messages/<int(signed=True):seq>")
def delete(room_id: str, seq: int):
    """Delete a message: its sender, or the creator of its group room. Deleting again: 204."""
    store().delete_message(require_user(), room_id, seq)
    return "", 204


@bp.put("/api/rooms/<room_id>/messages/<int(signed=True):seq>/reactions/<emoji>")
def add_reaction(room_id: str, seq: int, emoji: str):
    """Add the caller's reaction; already there: no change."""
    return _react(room_id, seq, emoji, True)


@bp.delete("/api/rooms/<room_id>/messages/<int(signed=True):seq>/reactions/<emoji>")
def remove_reaction(room_id: str, seq: int, emoji: str):
    """Remove the caller's reaction; not there: no change."""
    return _react(room_id, seq, emoji, False)


def _react(room_id: str, seq: int, emoji: str, added: bool):
    username = require_user()
    message = store().react(username, room_id, seq, emoji, added, admit=lambda: limit("messages", username))
    return jsonify(message=message)

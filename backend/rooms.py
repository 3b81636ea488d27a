"""Rooms, membership and direct messages."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from common.schemas import NewRoom, Person, ReadPosition

from . import validation
from .auth import limit, require_user, store
from .refusals import Invalid

bp = Blueprint("rooms", __name__)


def known_user(name: str) -> str:
    """The stored spelling of a registered username, or Invalid naming it."""
    found = store().accounts.find(name)
    if found is None:
        raise Invalid(f"No user named '{name}'.")
    return found


@bp.get("/api/rooms")
def list_rooms():
    """The caller's rooms and every public room."""
    return jsonify(rooms=store().rooms_for(require_user()))


@bp.post("/api/rooms")
def create_room():
    """A new group room; the caller is its first member."""
    username = require_user()
    body = validation.body(request, NewRoom)
    members = [known_user(member) for member in body.members]
    limit("rooms", username)
    return jsonify(room=store().create_room(username, body.name, body.visibility, members)), 201


@bp.get("/api/rooms/<room_id>")
def get_room(room_id: str):
    """One room the caller may see."""
    username = require_user()
    room = store().room(username, room_id)
    return jsonify(room=dict(room.to_json(), member=room.has_member(username)))


@bp.post("/api/rooms/<room_id>/members")
def add_member(room_id: str):
    """Join a public room yourself, or add someone to a room you are in."""
    username = require_user()
    target = validation.body(request, Person).username
    room, _ = store().add_member(
        username, room_id, target, known=known_user, admit=lambda: limit("memberships", username)
    )
    return jsonify(room=room)


@bp.delete("/api/rooms/<room_id>/members/<username>")
def remove_member(room_id: str, username: str):
    """Leave a room; nobody can remove someone else."""
    actor = require_user()
    store().leave(actor, room_id, username, admit=lambda: limit("memberships", actor))
    return "", 204


@bp.put("/api/rooms/<room_id>/read")
def mark_read(room_id: str):
    """Move the caller's read position forward (never back, never past the last message)."""
    username = require_user()
    store().mark_read(username, room_id, validation.body(request, ReadPosition).seq)
    return "", 204


@bp.post("/api/dms")
def open_dm():
    """The caller's direct-message room with someone: created once, then the same room."""
    username = require_user()
    other = known_user(validation.body(request, Person).username)
    room, created = store().open_dm(username, other)
    return jsonify(room=room), 201 if created else 200

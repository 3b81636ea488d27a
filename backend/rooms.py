"""Rooms, membership and direct messages."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from common.errors import ApiError

from . import validation
from .auth import limit, require_user, store
from .model import PRIVATE, PUBLIC

bp = Blueprint("rooms", __name__)


def known_user(value: object, field: str) -> str:
    """The stored spelling of a registered username, or 422 naming it."""
    name = validation.username(value, field)
    found = store().accounts.find(name)
    if found is None:
        raise validation.invalid(f"No user named '{name}'.")
    return found


@bp.get("/api/rooms")
def list_rooms():
    """The caller's rooms and every public room."""
    return jsonify(rooms=store().rooms_for(require_user()))


@bp.post("/api/rooms")
def create_room():
    """A new group room; the caller is its first member."""
    username = require_user()
    body = validation.json_body(request)
    name = validation.text_field(body, "name", 1, 64)
    visibility = validation.choice(body, "visibility", (PUBLIC, PRIVATE), PUBLIC)
    members = body.get("members", [])
    if not isinstance(members, list) or len(members) > 1000:
        raise validation.invalid("'members' must be a list of at most 1000 usernames.")
    members = [known_user(member, "members") for member in members]
    limit("rooms", username)
    return jsonify(room=store().create_room(username, name, visibility, members)), 201


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
    store().room(username, room_id)  # a hidden room stays hidden, whatever the body says
    target = known_user(validation.json_body(request).get("username"), "username")
    room, _ = store().add_member(username, room_id, target)
    return jsonify(room=room)


@bp.delete("/api/rooms/<room_id>/members/<username>")
def remove_member(room_id: str, username: str):
    """Leave a room; nobody can remove someone else."""
    caller = require_user()
    store().room(caller, room_id)
    if store().accounts.find(username) != caller:
        raise ApiError(403, "forbidden", "You can only remove yourself from a room.")
    store().leave(caller, room_id)
    return "", 204


@bp.post("/api/dms")
def open_dm():
    """The caller's direct-message room with someone: created once, then the same room."""
    username = require_user()
    other = known_user(validation.json_body(request).get("username"), "username")
    if other == username:
        raise validation.invalid("A direct message needs someone other than yourself.")
    room, created = store().open_dm(username, other)
    return jsonify(room=room), 201 if created else 200

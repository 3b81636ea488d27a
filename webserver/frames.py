"""Frames from a client: parse, check, and act (``send`` relayed to the backend, ``typing`` to the hub).

A bad frame is answered with an ``error`` frame on the same connection, which stays open:
``invalid_json`` for what is not JSON text, ``validation_error`` for a frame of the wrong shape,
and for everything the backend judges (lengths, membership, the ``client_id`` rule, rate limits)
the backend's own code and message, with the frame's ``client_id``. No Flask import.
"""

from __future__ import annotations

import re
from typing import Any

from common import jsontext
from webserver.backend_client import BackendClient, BackendRefused, BackendUnavailable
from webserver.connection import Connection
from webserver.hub import Hub, encode

# Ids are made by the server from these characters; anything else names no room and must not
# reach the backend's URL space (``../session``).
_ROOM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

MESSAGES = {
    "not_found": "No such room.",
    "not_a_member": "You are not a member of this room.",
    "backend_unavailable": "The chat's storage is unavailable; try again in a moment.",
    "internal_error": "The server hit an unexpected error.",
}


def on_frame(data: str | bytes, conn: Connection, hub: Hub, backend: BackendClient) -> None:
    """Handle one frame from the client; a bad one is answered with an error frame."""
    if isinstance(data, bytes):
        return send_error(conn, "invalid_json", "Frames are JSON text; binary frames are not accepted.")
    try:
        frame = jsontext.loads(data)
    except jsontext.NotUnicode as error:
        return send_error(conn, "validation_error", str(error))
    except jsontext.NotJson:
        return send_error(conn, "invalid_json", "The frame is not valid JSON.")
    if not isinstance(frame, dict):
        return send_error(conn, "validation_error", "A frame is a JSON object with a type.")
    client_id = frame.get("client_id") if isinstance(frame.get("client_id"), str) else None
    kind = frame.get("type")
    room = frame.get("room")
    if kind not in ("send", "typing"):
        return send_error(conn, "validation_error", "type must be send or typing.", client_id)
    if not isinstance(room, str):
        return send_error(conn, "validation_error", "room must be a room id (a string).", client_id)
    if kind == "typing":
        code = hub.typing(conn.user, room)
        return send_error(conn, code) if code else None
    for field in ("text", "client_id"):
        if not isinstance(frame.get(field), str):
            return send_error(conn, "validation_error", f"{field} must be a string.", client_id)
    if not _ROOM_ID.fullmatch(room):
        return send_error(conn, "not_found", None, client_id)
    try:
        stored = backend.post_message(
            conn.token, room, frame["text"], client_id, reply_to=frame.get("reply_to")
        )
    except BackendUnavailable:
        return send_error(conn, "backend_unavailable", None, client_id)
    except BackendRefused as refused:
        conn.push(
            error_frame(refused.code, refused.message, client_id=client_id, retry_after=refused.retry_after)
        )
        if refused.status == 401:
            conn.close(1008, "session ended")
        return None
    conn.push(encode({"type": "ack", "client_id": client_id, "message": stored.message}))
    hub.apply_ahead(stored.addressed)
    return None


def error_frame(
    code: str, message: str | None = None, *, client_id: str | None = None, retry_after: int | None = None
) -> str:
    """An ``error`` frame, the one builder of them: the contract's code and a message.

    ``client_id`` says which send it answers; ``retry_after`` (a rate limit) how many seconds the
    client should wait. Without a message, the usual one for ``code`` is used.
    """
    error: dict[str, Any] = {"code": code, "message": message or MESSAGES.get(code, code)}
    if retry_after is not None:
        error["retry_after"] = retry_after
    frame: dict[str, Any] = {"type": "error", "error": error}
    if client_id is not None:
        frame["client_id"] = client_id
    return encode(frame)


def send_error(conn: Connection, code: str, message: str | None = None, client_id: str | None = None) -> None:
    """Send this connection an error frame."""
    conn.push(error_frame(code, message, client_id=client_id))

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
from webserver.connection import Connection
from webserver.hub import Hub, encode
from webserver.relay import Backend, BackendUnavailable

# Seconds (connect, answer) the backend may take to store a message: it fsyncs each one, and a
# busy disk must not turn a stored message into a false backend_unavailable.
SEND_TIMEOUT = (0.5, 5.0)

# Ids are made by the server from these characters; anything else names no room and must not
# reach the backend's URL space (``../session``).
_ROOM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

_MESSAGES = {
    "not_found": "No such room.",
    "not_a_member": "You are not a member of this room.",
    "backend_unavailable": "The chat's storage is unavailable; try again in a moment.",
}


def on_frame(data: str | bytes, conn: Connection, hub: Hub, backend: Backend) -> None:
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
        code = hub.typing(conn, room)
        return send_error(conn, code, _MESSAGES[code]) if code else None
    for field in ("text", "client_id"):
        if not isinstance(frame.get(field), str):
            return send_error(conn, "validation_error", f"{field} must be a string.", client_id)
    if not _ROOM_ID.fullmatch(room):
        return send_error(conn, "not_found", _MESSAGES["not_found"], client_id)
    try:
        # Repeatable: the backend stores one message per (sender, room, client_id).
        answer = backend.request(
            "POST",
            f"/api/rooms/{room}/messages",
            token=conn.token,
            json={"text": frame["text"], "client_id": client_id},
            timeout=SEND_TIMEOUT,
            repeatable=True,
        )
    except BackendUnavailable:
        answer = None
    if answer is None:
        return send_error(conn, "backend_unavailable", _MESSAGES["backend_unavailable"], client_id)
    body = answer.body
    if 200 <= answer.status < 300 and isinstance(body, dict) and isinstance(body.get("message"), dict):
        conn.push(encode({"type": "ack", "client_id": client_id, "message": body["message"]}))
        return None
    _backend_error(conn, answer.status, body, client_id, answer.headers.get("Retry-After"))
    if answer.status == 401:
        conn.close(1008, "session ended")
    return None


def _backend_error(
    conn: Connection, status: int, body: Any, client_id: str | None, retry_after: str | None = None
) -> None:
    """Pass the backend's error (code and message) on to the client as an error frame.

    A rate limit also says, as ``retry_after``, how many seconds the client should wait.
    """
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        frame_error = {"code": error["code"], "message": str(error.get("message") or error["code"])}
        if status == 429 and retry_after and retry_after.isdigit():
            frame_error["retry_after"] = int(retry_after)
    else:
        frame_error = {"code": "backend_unavailable", "message": _MESSAGES["backend_unavailable"]}
    frame: dict[str, Any] = {"type": "error", "error": frame_error}
    if client_id is not None:
        frame["client_id"] = client_id
    conn.push(encode(frame))


def send_error(conn: Connection, code: str, message: str | None = None, client_id: str | None = None) -> None:
    """Send this connection an error frame."""
    frame: dict[str, Any] = {"type": "error", "error": {"code": code, "message": message or _MESSAGES[code]}}
    if client_id is not None:
        frame["client_id"] = client_id
    conn.push(encode(frame))

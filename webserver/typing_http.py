"""``POST /api/rooms/{id}/typing``: a typing notice over HTTP, for pages that poll.

A page without a WebSocket says it is typing with this call and hears others in the ``signals``
of its long-polls (:mod:`webserver.polling`). The notice goes through the hub's one typing path
(:meth:`webserver.hub.Hub.typing`), the same as a WebSocket's ``typing`` frame: its rules, its
limit (extra notices dropped without an error) and its audience. Nothing reaches the backend but
the session check, and nothing is stored.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from common.errors import ApiError
from webserver import sessions
from webserver.frames import MESSAGES
from webserver.hub import Hub

bp = Blueprint("typing_http", __name__)

_STATUS = {"not_found": 404, "not_a_member": 403}


@bp.post("/api/rooms/<room_id>/typing")
def typing(room_id: str) -> Response:
    """Tell the room's other members that the caller is typing; ``204``, whatever the limit did."""
    user = current_app.extensions["chat.sessions"].user_for(sessions.token_from(request))  # 503 if unsure
    if not user or not user.get("username"):
        raise ApiError(401, "unauthenticated", "Sign in first.")
    hub: Hub = current_app.extensions["chat.hub"]
    if not hub.ready.is_set():
        raise ApiError(503, "backend_unavailable", MESSAGES["backend_unavailable"])
    code = hub.typing(user["username"], room_id)
    if code:
        raise ApiError(_STATUS[code], code, MESSAGES[code])
    response = Response(status=204)
    del response.headers["Content-Type"]  # no body, so no type
    return response

"""The operations of the public HTTP API, for the OpenAPI document (:mod:`webserver.openapi`).

One entry per route of the contract's table, with its request model, query model and every answer
it can give, each answer's body a model of :mod:`common.objects`. The error answers common to all
operations (401, 403 for the origin rule, 400, 413 and 422 for bodies, 429, 503) are added by
:func:`webserver.openapi_schemas.operation`.
"""

from __future__ import annotations

from common import limits
from common import objects as o
from common import schemas as s
from webserver.openapi_files import file_paths
from webserver.openapi_messages import message_paths
from webserver.openapi_schemas import answer, error, operation, path_param, query

SET_COOKIE = {
    "Set-Cookie": {
        "description": "chat_session=TOKEN; HttpOnly; SameSite=Lax; Path=/; "
        f"Max-Age={limits.SESSION_SECONDS} ({limits.SESSION_SECONDS // 86400} days), plus Secure when "
        "the server runs with --secure-cookies. Sign-out clears it.",
        "schema": {"type": "string"},
    }
}
ROOM_ID = path_param("id", "The room's id.")


# Where an answer's room can be used next: lets a client generator or a stateful fuzzer chain calls.
ROOM_LINKS = {
    name: {"operationId": target, "parameters": {"id": "$response.body#/room/id"}}
    for name, target in (
        ("GetRoom", "getRoom"),
        ("AddMember", "addMember"),
        ("ListMessages", "listMessages"),
        ("PostMessage", "postMessage"),
    )
}


def paths() -> dict:
    """The ``paths`` object: every operation of the public API."""
    room = answer("The room.", o.OneRoom, links=ROOM_LINKS)
    limited = error(429, "rate_limited")
    return {
        "/api/session": {
            "post": operation(
                "signIn",
                "Sign in, or register a name that is new",
                {
                    200: answer("Signed in.", o.OneUser, SET_COOKIE),
                    201: answer("Registered and signed in.", o.OneUser, SET_COOKIE),
                    401: error(401, "invalid_credentials", description="Wrong password for this name."),
                    404: error(404, "not_found", description="create false, and nobody has this name."),
                    409: error(
                        409,
                        "username_taken",
                        description="A new name that looks like a registered one (same confusable skeleton).",
                    ),
                    422: error(
                        422,
                        "validation_error",
                        "weak_password",
                        description="A field out of its limits (validation_error), or a new account's "
                        "password among the easiest to guess (weak_password).",
                    ),
                    429: error(
                        429,
                        "rate_limited",
                        description="Too many failed sign-ins for this name or from this address, too "
                        "many new accounts from this address, or every password check busy (Retry-After: 1).",
                    ),
                },
                body=s.SignIn,
                cookie="none",
                changes=True,
            ),
            "get": operation("getSession", "Who is signed in", {200: answer("The user.", o.OneUser)}),
            "delete": operation(
                "signOut",
                "Sign out: revoke the session and clear the cookie (also when there is none)",
                {204: answer("Signed out; the session, if any, is revoked.", headers=SET_COOKIE)},
                cookie="optional",
                changes=True,
            ),
        },
        "/api/users": {
            "get": operation(
                "listUsers",
                "Everyone registered, with who is online",
                {200: answer("The users.", o.UserList)},
            )
        },
        "/api/rooms": {
            "get": operation(
                "listRooms",
                "The caller's rooms and every public room",
                {200: answer("The rooms.", o.RoomList)},
            ),
            "post": operation(
                "createRoom",
                "Create a group room; the caller is a member",
                {201: room, 422: error(422, "validation_error"), 429: limited},
                body=s.NewRoom,
                changes=True,
            ),
        },
        "/api/rooms/{id}": {
            "parameters": [ROOM_ID],
            "get": operation(
                "getRoom",
                "One room",
                {
                    200: answer("The room, with `member`.", o.OneListedRoom, links=ROOM_LINKS),
                    404: error(404, "not_found"),
                },
            ),
        },
        "/api/rooms/{id}/members": {
            "parameters": [ROOM_ID],
            "post": operation(
                "addMember",
                "Join a public room, or add someone to a room you are in",
                {
                    200: room,
                    403: error(
                        403,
                        "forbidden",
                        "not_a_member",
                        description="A DM (forbidden), adding others to a room you are not in "
                        "(not_a_member), or an Origin that is not allowed (forbidden).",
                    ),
                    404: error(404, "not_found"),
                    429: error(429, "rate_limited", description="Too many membership changes."),
                },
                body=s.Person,
                changes=True,
            ),
        },
        "/api/rooms/{id}/members/{username}": {
            "parameters": [ROOM_ID, path_param("username", "Must be the caller: one can only leave.")],
            "delete": operation(
                "leaveRoom",
                "Leave a room",
                {
                    204: answer("Left."),
                    403: error(
                        403,
                        "forbidden",
                        "not_a_member",
                        description="Someone else's name or a DM (forbidden), a room the caller is "
                        "not in (not_a_member), or an Origin that is not allowed (forbidden).",
                    ),
                    404: error(404, "not_found"),
                    429: error(429, "rate_limited", description="Too many membership changes."),
                },
                changes=True,
            ),
        },
        "/api/rooms/{id}/read": {
            "parameters": [ROOM_ID],
            "put": operation(
                "markRead",
                "Move the caller's read position in a room forward",
                {
                    204: answer("Moved, or already there or further (nothing changes)."),
                    404: error(404, "not_found"),
                },
                body=s.ReadPosition,
                changes=True,
            ),
        },
        "/api/rooms/{id}/typing": {
            "parameters": [ROOM_ID],
            "post": operation(
                "sendTyping",
                "Tell the room's other members that the caller is typing (for pages that poll)",
                {
                    204: answer("Relayed, or dropped over the typing limit (3 a second)."),
                    403: error(403, "not_a_member", "forbidden"),
                    404: error(404, "not_found"),
                },
                changes=True,
            ),
        },
        "/api/dms": {
            "post": operation(
                "openDm",
                "Open the direct-message room with someone",
                {
                    200: answer("The pair's existing DM room.", o.OneRoom, links=ROOM_LINKS),
                    201: answer("The DM room, created now.", o.OneRoom, links=ROOM_LINKS),
                    422: error(422, "validation_error", description="Unknown username, or yourself."),
                },
                body=s.Person,
                changes=True,
            ),
        },
        "/api/rooms/{id}/messages": {
            "parameters": [ROOM_ID],
            "get": operation(
                "listMessages",
                "A page of history, oldest first",
                {
                    200: answer("The messages: after SEQ, just before SEQ, or the latest.", o.HistoryPage),
                    404: error(404, "not_found"),
                    422: error(422, "validation_error", description="Out of range, or after with before."),
                },
                params=query(s.HistoryQuery),
            ),
            "post": operation(
                "postMessage",
                "Post a message (idempotent per client_id)",
                {
                    200: answer("A repeat of a client_id: the first message; nothing stored.", o.OneMessage),
                    201: answer("Stored.", o.OneMessage),
                    403: error(
                        403,
                        "not_a_member",
                        "forbidden",
                        description="A public room the caller has not joined (not_a_member), or an "
                        "Origin that is not allowed (forbidden).",
                    ),
                    404: error(404, "not_found"),
                    429: limited,
                },
                body=s.NewMessage,
                changes=True,
            ),
        },
        **message_paths(),
        **file_paths(),
        "/api/events": {
            "get": operation(
                "getEvents",
                "The events that concern the caller, after a cursor (long-poll with wait)",
                {
                    200: answer("Events oldest first; pos is the next cursor.", o.EventBatch),
                    422: error(422, "validation_error"),
                    429: error(
                        429, "rate_limited", description="Too many deep catch-ups (after far behind the log)."
                    ),
                },
                params=query(s.EventsQuery),
            ),
        },
        "/api/search": {
            "get": operation(
                "searchMessages",
                "Messages the caller may read that match q, newest first",
                {
                    200: answer(
                        "One page of matches; the next: before = the last result's pos.", o.SearchResults
                    ),
                    404: error(404, "not_found", description="A room the caller may not read."),
                    422: error(
                        422,
                        "validation_error",
                        description="q empty, only spaces or too long; a number out of range.",
                    ),
                },
                params=query(s.SearchQuery),
            ),
        },
        "/api/limits": {
            "get": {
                "operationId": "getLimits",
                "summary": "The limits the app checks before it sends (lengths in code points)",
                "security": [],
                "responses": {"200": answer("The limits, from common/limits.py.", o.AppLimits)},
            }
        },
        "/api/openapi.json": {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This document",
                "security": [],
                "responses": {"200": answer("The OpenAPI document.", {"type": "object"})},
            }
        },
    }

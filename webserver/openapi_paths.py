"""The operations of the public HTTP API, for the OpenAPI document (:mod:`webserver.openapi`).

One entry per route of the contract's table, with its body, query parameters and every answer it
can give. The error answers common to all operations (401, 403 for the origin rule, 400 and 413 for
bodies, 503) are added by :func:`webserver.openapi_schemas.operation`.
"""

from __future__ import annotations

from webserver.openapi_schemas import (
    CURSOR,
    NOT_BLANK,
    USERNAME_IN,
    answer,
    error,
    obj,
    operation,
    path_param,
    query,
    ref,
)

SET_COOKIE = {
    "Set-Cookie": {
        "description": "chat_session=TOKEN; HttpOnly; SameSite=Lax; Path=/; Max-Age=2592000 "
        "(30 days), plus Secure when the server runs with --secure-cookies. Sign-out clears it.",
        "schema": {"type": "string"},
    }
}
ROOM_ID = path_param("id", "The room's id.")
USER_BODY = obj(["username"], username=USERNAME_IN)

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
    room = answer("The room.", obj(["room"], room=ref("Room")), links=ROOM_LINKS)
    listed_room = answer("The room, with `member`.", obj(["room"], room=ref("ListedRoom")), links=ROOM_LINKS)
    message = obj(["message"], message=ref("Message"))
    limited = error(429, "rate_limited")
    return {
        "/api/session": {
            "post": operation(
                "signIn",
                "Sign in, or register a name that is new",
                {
                    200: answer("Signed in.", obj(["user"], user=ref("User")), SET_COOKIE),
                    201: answer("Registered and signed in.", obj(["user"], user=ref("User")), SET_COOKIE),
                    401: error(401, "invalid_credentials", description="Wrong password for this name."),
                    422: error(422, "validation_error"),
                    429: error(429, "rate_limited", description="Too many failed sign-ins for this name."),
                },
                body=obj(
                    ["username", "password"],
                    username=USERNAME_IN,
                    password={"type": "string", "minLength": 8, "maxLength": 128},
                ),
                cookie="none",
                changes=True,
            ),
            "get": operation(
                "getSession", "Who is signed in", {200: answer("The user.", obj(["user"], user=ref("User")))}
            ),
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
                {
                    200: answer(
                        "The users.", obj(["users"], users={"type": "array", "items": ref("ListedUser")})
                    )
                },
            )
        },
        "/api/rooms": {
            "get": operation(
                "listRooms",
                "The caller's rooms and every public room",
                {
                    200: answer(
                        "The rooms.", obj(["rooms"], rooms={"type": "array", "items": ref("ListedRoom")})
                    )
                },
            ),
            "post": operation(
                "createRoom",
                "Create a group room; the caller is a member",
                {201: room, 422: error(422, "validation_error"), 429: limited},
                body=obj(
                    ["name"],
                    name={"type": "string", "minLength": 1, "maxLength": 64, "pattern": NOT_BLANK},
                    visibility={"type": "string", "enum": ["public", "private"], "default": "public"},
                    members={"type": "array", "maxItems": 1000, "items": USERNAME_IN, "default": []},
                ),
                changes=True,
            ),
        },
        "/api/rooms/{id}": {
            "parameters": [ROOM_ID],
            "get": operation("getRoom", "One room", {200: listed_room, 404: error(404, "not_found")}),
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
                    422: error(422, "validation_error"),
                },
                body=USER_BODY,
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
                },
                changes=True,
            ),
        },
        "/api/dms": {
            "post": operation(
                "openDm",
                "Open the direct-message room with someone",
                {
                    200: answer(
                        "The pair's existing DM room.", obj(["room"], room=ref("Room")), links=ROOM_LINKS
                    ),
                    201: answer(
                        "The DM room, created now.", obj(["room"], room=ref("Room")), links=ROOM_LINKS
                    ),
                    422: error(422, "validation_error", description="Unknown username, or yourself."),
                },
                body=USER_BODY,
                changes=True,
            ),
        },
        "/api/rooms/{id}/messages": {
            "parameters": [ROOM_ID],
            "get": operation(
                "listMessages",
                "A page of history, oldest first",
                {
                    200: answer(
                        "The messages: after SEQ, just before SEQ, or the latest.",
                        obj(
                            ["messages", "last_seq"],
                            messages={"type": "array", "maxItems": 200, "items": ref("Message")},
                            last_seq={"type": "integer", "minimum": 0},
                        ),
                    ),
                    404: error(404, "not_found"),
                    422: error(422, "validation_error", description="Out of range, or after with before."),
                },
                params=[
                    query("after", CURSOR, "Messages with seq greater than this. Not with before."),
                    query("before", CURSOR, "Messages with seq less than this. Not with after."),
                    query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
                        "Page size.",
                    ),
                ],
            ),
            "post": operation(
                "postMessage",
                "Post a message (idempotent per client_id)",
                {
                    200: answer("A repeat of a client_id: the first message; nothing stored.", message),
                    201: answer("Stored.", message),
                    403: error(
                        403,
                        "not_a_member",
                        "forbidden",
                        description="A public room the caller has not joined (not_a_member), or an "
                        "Origin that is not allowed (forbidden).",
                    ),
                    404: error(404, "not_found"),
                    422: error(422, "validation_error"),
                    429: limited,
                },
                body=obj(
                    ["text", "client_id"],
                    text={"type": "string", "minLength": 1, "maxLength": 4000, "pattern": NOT_BLANK},
                    client_id={"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                ),
                changes=True,
            ),
        },
        "/api/events": {
            "get": operation(
                "getEvents",
                "The events that concern the caller, after a cursor (long-poll with wait)",
                {
                    200: answer(
                        "At most 500 events, oldest first; pos is the next cursor.",
                        obj(
                            ["events", "pos", "more"],
                            events={"type": "array", "maxItems": 500, "items": ref("Event")},
                            pos=CURSOR,
                            more={"type": "boolean"},
                        ),
                    ),
                    422: error(422, "validation_error"),
                },
                params=[
                    query(
                        "after",
                        CURSOR,
                        "The pos of the last event seen. Without it: no events, the current pos.",
                    ),
                    query(
                        "wait",
                        {"type": "number", "minimum": 0, "maximum": 30, "default": 0},
                        "Seconds to wait for an event when there is none yet.",
                    ),
                ],
            ),
        },
        "/api/limits": {
            "get": {
                "operationId": "getLimits",
                "summary": "The limits the app checks before it sends (lengths in code points)",
                "security": [],
                "responses": {"200": answer("The limits, from common/limits.py.", {"type": "object"})},
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

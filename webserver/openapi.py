"""The OpenAPI 3.0 document of the public HTTP API, served at ``GET /api/openapi.json``.

Built as Python data from the schemas in :mod:`webserver.openapi_schemas`, once, when first asked
for. It describes what callers of the front server see (cookies, the origin rule's 403, the 503 when
the backend is away); ``docs/api.md`` says the same in prose and the two are kept in step.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson
from flask import Blueprint, Response

from webserver.openapi_schemas import (
    CURSOR,
    NOT_BLANK,
    SCHEMAS,
    USERNAME_IN,
    answer,
    error,
    json_content,
    obj,
    path_param,
    query,
    ref,
)

bp = Blueprint("openapi", __name__)

SET_COOKIE = {
    "Set-Cookie": {
        "description": "chat_session=TOKEN; HttpOnly; SameSite=Lax; Path=/; Max-Age=2592000 "
        "(30 days), plus Secure when the server runs with --secure-cookies. Sign-out clears it.",
        "schema": {"type": "string"},
    }
}
ROOM_ID = path_param("id", "The room's id.")
USER_BODY = obj(["username"], username=USERNAME_IN)


def _operation(
    summary: str,
    responses: dict[int, dict],
    *,
    body: dict | None = None,
    params: list | None = None,
    public: bool = False,
    changes: bool = False,
) -> dict:
    """One operation, with the error answers every such operation can give added to ``responses``.

    ``public`` operations need no cookie (no 401 unauthenticated); ``changes`` marks a
    state-changing method, which the origin rule may refuse with 403 forbidden.
    """
    answers = dict(responses)
    if body is not None:
        answers.setdefault(400, error(400, "invalid_json"))
        answers.setdefault(413, error(413, "payload_too_large"))
    if not public:
        answers.setdefault(401, error(401, "unauthenticated"))
    if changes:
        answers.setdefault(403, error(403, "forbidden", description="The Origin header is not allowed."))
    unavailable = ("backend_unavailable", "storage_unavailable") if changes else ("backend_unavailable",)
    answers.setdefault(503, error(503, *unavailable))
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {str(k): answers[k] for k in sorted(answers)},
    }
    if params:
        operation["parameters"] = params
    if body is not None:
        operation["requestBody"] = {"required": True, "content": json_content(body)}
    if public:
        operation["security"] = []
    return operation


def _paths() -> dict:
    room = answer("The room.", obj(["room"], room=ref("Room")))
    listed_room = answer("The room, with `member`.", obj(["room"], room=ref("ListedRoom")))
    message = obj(["message"], message=ref("Message"))
    limited = error(429, "rate_limited")
    return {
        "/api/session": {
            "post": _operation(
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
                public=True,
                changes=True,
            ),
            "get": _operation(
                "Who is signed in", {200: answer("The user.", obj(["user"], user=ref("User")))}
            ),
            "delete": _operation(
                "Sign out: revoke the session and clear the cookie",
                {204: answer("Signed out.", headers=SET_COOKIE)},
                changes=True,
            ),
        },
        "/api/users": {
            "get": _operation(
                "Everyone registered, with who is online",
                {
                    200: answer(
                        "The users.", obj(["users"], users={"type": "array", "items": ref("ListedUser")})
                    )
                },
            )
        },
        "/api/rooms": {
            "get": _operation(
                "The caller's rooms and every public room",
                {
                    200: answer(
                        "The rooms.", obj(["rooms"], rooms={"type": "array", "items": ref("ListedRoom")})
                    )
                },
            ),
            "post": _operation(
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
            "get": _operation("One room", {200: listed_room, 404: error(404, "not_found")}),
        },
        "/api/rooms/{id}/members": {
            "parameters": [ROOM_ID],
            "post": _operation(
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
            "delete": _operation(
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
            "post": _operation(
                "Open the direct-message room with someone",
                {
                    200: answer("The pair's existing DM room.", obj(["room"], room=ref("Room"))),
                    201: answer("The DM room, created now.", obj(["room"], room=ref("Room"))),
                    422: error(422, "validation_error", description="Unknown username, or yourself."),
                },
                body=USER_BODY,
                changes=True,
            ),
        },
        "/api/rooms/{id}/messages": {
            "parameters": [ROOM_ID],
            "get": _operation(
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
            "post": _operation(
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
            "get": _operation(
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
        "/api/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {"200": answer("The OpenAPI document.", {"type": "object"})},
            }
        },
    }


@functools.cache
def document() -> dict:
    """The OpenAPI document as a dict (built once; callers must not change it)."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Chat",
            "version": "1.0.0",
            "description": "The chat's public HTTP API, served by the front server. JSON in and out; "
            'errors are {"error": {"code", "message"}}. See docs/api.md.',
        },
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "chat_session",
                    "description": "Set by POST /api/session; HttpOnly, SameSite=Lax, 30 days.",
                }
            },
        },
        "security": [{"session": []}],
    }


@functools.cache
def _encoded() -> bytes:
    return orjson.dumps(document())


@bp.get("/api/openapi.json")
def openapi_json() -> Response:
    """Serve the document."""
    return Response(_encoded(), mimetype="application/json")

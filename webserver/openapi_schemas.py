"""The JSON schemas of the public API's objects, and builders for parameters and responses.

:mod:`webserver.openapi` assembles these into the OpenAPI document. Limits are the contract's,
written as schema constraints, so a client generator or a fuzzer knows them without reading prose.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

ERROR_CODES = (
    "invalid_json",
    "validation_error",
    "unauthenticated",
    "invalid_credentials",
    "forbidden",
    "not_a_member",
    "not_found",
    "payload_too_large",
    "rate_limited",
    "backend_unavailable",
    # Ours, beyond the contract's list: the backend could not write to its disk (nothing was
    # half-written; the same request may be retried).
    "storage_unavailable",
)

# In requests, a username is 2 to 32 letters (any script), digits, "_", "-" or "." (code points).
# \p{L}\p{N} is exactly what Python's str.isalnum() accepts, the backend's test. Answers carry
# usernames without a pattern, since they are the server's own.
USERNAME_IN: Schema = {
    "type": "string",
    "minLength": 2,
    "maxLength": 32,
    "pattern": r"^[\p{L}\p{N}_.-]+$",
    "description": "2 to 32 letters (any script), digits, '_', '-' or '.'; unique ignoring case.",
}
# Not only white space: at least one character outside the set Python's str.isspace() accepts.
# Spelled out, because the \s of JSON Schema's regular expressions is a slightly different set.
NOT_BLANK = r"[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
TIMESTAMP: Schema = {
    "type": "string",
    "format": "date-time",
    "description": "ISO 8601 in UTC with milliseconds and a Z, e.g. 2026-11-26T13:45:51.123Z.",
}
CURSOR: Schema = {"type": "integer", "minimum": 0}

SCHEMAS: dict[str, Schema] = {
    "User": {
        "type": "object",
        "required": ["username"],
        "properties": {
            "username": {"type": "string"},
            "online": {"type": "boolean", "description": "Only in GET /api/users."},
        },
    },
    "ListedUser": {
        "allOf": [{"$ref": "#/components/schemas/User"}, {"type": "object", "required": ["online"]}],
    },
    "Room": {
        "type": "object",
        "required": ["id", "name", "kind", "visibility", "members", "last_seq", "created_by", "created_at"],
        "properties": {
            "id": {"type": "string", "description": "Opaque, made by the server."},
            "name": {
                "type": "string",
                "description": "A DM's name is its two usernames, sorted, joined by ', '.",
            },
            "kind": {"type": "string", "enum": ["group", "dm"]},
            "visibility": {"type": "string", "enum": ["public", "private"]},
            "members": {"type": "array", "items": {"type": "string"}},
            "last_seq": {"type": "integer", "minimum": 0},
            "created_by": {"type": "string", "nullable": True, "description": "null for 'general'."},
            "created_at": TIMESTAMP,
            "member": {
                "type": "boolean",
                "description": "Whether the caller is a member: in GET /api/rooms and GET /api/rooms/{id}.",
            },
        },
    },
    "ListedRoom": {
        "allOf": [{"$ref": "#/components/schemas/Room"}, {"type": "object", "required": ["member"]}],
    },
    "Message": {
        "type": "object",
        "required": ["id", "room", "seq", "pos", "sender", "text", "ts", "client_id"],
        "properties": {
            "id": {"type": "string"},
            "room": {"type": "string", "description": "The room's id."},
            "seq": {"type": "integer", "minimum": 1, "description": "1, 2, 3 ... within the room."},
            "pos": {"type": "integer", "minimum": 1, "description": "The event's place in the feed."},
            "sender": {"type": "string"},
            "text": {"type": "string"},
            "ts": TIMESTAMP,
            "client_id": {"type": "string"},
        },
    },
    "MessageEvent": {
        "type": "object",
        "required": ["type", "pos", "message"],
        "properties": {
            "type": {"type": "string", "enum": ["message"]},
            "pos": {"type": "integer", "minimum": 1},
            "message": {"$ref": "#/components/schemas/Message"},
        },
    },
    "RoomEvent": {
        "type": "object",
        "required": ["type", "pos", "room", "action", "user"],
        "properties": {
            "type": {"type": "string", "enum": ["room"]},
            "pos": {"type": "integer", "minimum": 1},
            "room": {"$ref": "#/components/schemas/Room"},
            "action": {"type": "string", "enum": ["created", "joined", "added", "left"]},
            "user": {
                "type": "string",
                "nullable": True,
                "description": "Who joined, was added or left; the creator for 'created' (null: 'general').",
            },
        },
    },
    "Event": {
        "oneOf": [{"$ref": "#/components/schemas/MessageEvent"}, {"$ref": "#/components/schemas/RoomEvent"}],
        "discriminator": {
            "propertyName": "type",
            "mapping": {
                "message": "#/components/schemas/MessageEvent",
                "room": "#/components/schemas/RoomEvent",
            },
        },
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": list(ERROR_CODES)},
                    "message": {"type": "string", "description": "A sentence for people, not for code."},
                },
            }
        },
    },
}

# What each error code means, for the responses' descriptions.
STATUS_TEXT = {
    400: "The body is not a JSON object (invalid_json).",
    401: "Not signed in, or the session ended.",
    403: "Not allowed.",
    404: "No such room, or a private room or DM the caller is not in (not_found).",
    413: "The body is over 65,536 bytes (payload_too_large).",
    422: "A value is out of range; the message names the field (validation_error).",
    429: "Too many requests; wait the seconds in Retry-After (rate_limited).",
    503: "The backend cannot be reached or is too slow (backend_unavailable), or could not write "
    "to its disk (storage_unavailable); retrying the same request is safe.",
}


def ref(name: str) -> Schema:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: list[str], **properties: Schema) -> Schema:
    """An object schema with these properties, ``required`` among them."""
    return {"type": "object", "required": required, "properties": properties}


def json_content(schema: Schema) -> dict:
    """A JSON content map."""
    return {"application/json": {"schema": schema}}


def answer(
    description: str, schema: Schema | None = None, headers: dict | None = None, links: dict | None = None
) -> dict:
    """A response object; no ``schema`` means an empty body."""
    response: dict[str, Any] = {"description": description}
    if schema is not None:
        response["content"] = json_content(schema)
    if headers:
        response["headers"] = headers
    if links:
        response["links"] = links
    return response


def error(status: int, *codes: str, description: str | None = None) -> dict:
    """An error response whose ``error.code`` is one of ``codes``."""
    code_enum = {"type": "string", "enum": list(codes)}
    schema = {
        "allOf": [
            ref("Error"),
            {
                "type": "object",
                "properties": {"error": {"type": "object", "properties": {"code": code_enum}}},
            },
        ]
    }
    headers = None
    if status == 429:
        headers = {
            "Retry-After": {
                "required": True,
                "description": "Whole seconds to wait before trying again.",
                "schema": {"type": "integer", "minimum": 1},
            }
        }
    return answer(description or STATUS_TEXT[status], schema, headers)


def query(name: str, schema: Schema, description: str) -> dict:
    """An optional query parameter."""
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def path_param(name: str, description: str) -> dict:
    """A path parameter."""
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": description,
    }


def operation(
    operation_id: str,
    summary: str,
    responses: dict[int, dict],
    *,
    body: dict | None = None,
    params: list | None = None,
    cookie: str = "required",
    changes: bool = False,
) -> dict:
    """One operation, with the error answers every such operation can give added to ``responses``.

    ``cookie`` is ``"required"`` (a 401 without it), ``"optional"`` (used when sent, never a 401)
    or ``"none"`` (not looked at); ``changes`` marks a state-changing method, which the origin
    rule may refuse with 403 forbidden.
    """
    answers = dict(responses)
    if body is not None:
        answers.setdefault(400, error(400, "invalid_json"))
        answers.setdefault(413, error(413, "payload_too_large"))
    if cookie == "required":
        answers.setdefault(401, error(401, "unauthenticated"))
    if changes:
        answers.setdefault(403, error(403, "forbidden", description="The Origin header is not allowed."))
    unavailable = ("backend_unavailable", "storage_unavailable") if changes else ("backend_unavailable",)
    answers.setdefault(503, error(503, *unavailable))
    result: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "responses": {str(k): answers[k] for k in sorted(answers)},
    }
    if params:
        result["parameters"] = params
    if body is not None:
        result["requestBody"] = {"required": True, "content": json_content(body)}
    if cookie == "none":
        result["security"] = []
    elif cookie == "optional":
        result["security"] = [{}, {"session": []}]
    return result

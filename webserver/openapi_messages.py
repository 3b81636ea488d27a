"""The operations on one message after it is sent (read, edit, delete, react), for the OpenAPI document.

Kept apart from :mod:`webserver.openapi_paths`, which includes them; same helpers, same conventions.
"""

from __future__ import annotations

from common import limits
from common import objects as o
from common import schemas as s
from webserver.openapi_schemas import answer, error, operation, path_param

ROOM_ID = path_param("id", "The room's id.")
SEQ = dict(path_param("seq", "The message's seq in the room."), schema={"type": "integer", "minimum": 1})
EMOJI = dict(
    path_param(
        "emoji",
        f"A Unicode emoji or a :short_name:, {limits.EMOJI_MIN} to {limits.EMOJI_MAX} code points with "
        "no white space or control character, URL-encoded (UTF-8).",
    ),
    schema={"type": "string", "minLength": limits.EMOJI_MIN},
)


def message_paths() -> dict:
    """One message after it is sent: read, edit, delete, react (docs/api.md)."""
    one = answer("The message as it is now.", o.OneMessage)
    missing = error(404, "not_found", description="No such room (or hidden), no such message, or deleted.")
    member = error(
        403,
        "not_a_member",
        "forbidden",
        description="A public room the caller has not joined (not_a_member), or an Origin that is "
        "not allowed (forbidden).",
    )
    limited = error(429, "rate_limited", description="The sender's message rate limit.")
    return {
        "/api/rooms/{id}/messages/{seq}": {
            "parameters": [ROOM_ID, SEQ],
            "get": operation(
                "getMessage",
                "One message as it is now",
                {200: one, 404: error(404, "not_found", description="No such room (or hidden) or message.")},
            ),
            "patch": operation(
                "editMessage",
                "Replace the text of one's own message",
                {
                    200: answer("The message as it is now (unchanged text: nothing stored).", o.OneMessage),
                    403: error(
                        403,
                        "forbidden",
                        "not_a_member",
                        description="Someone else's message, the edit window has closed, or an Origin "
                        "that is not allowed (forbidden); a room the caller has left (not_a_member).",
                    ),
                    404: missing,
                    429: limited,
                },
                body=s.EditedMessage,
                changes=True,
            ),
            "delete": operation(
                "deleteMessage",
                "Delete a message: its sender, or the creator of its group room",
                {
                    204: answer("Deleted (also when it already was)."),
                    403: error(
                        403,
                        "forbidden",
                        "not_a_member",
                        description="Neither its sender nor the room's creator, or an Origin that is "
                        "not allowed (forbidden); a room the caller has left (not_a_member).",
                    ),
                    404: error(404, "not_found", description="No such room (or hidden) or message."),
                },
                changes=True,
            ),
        },
        "/api/rooms/{id}/messages/{seq}/reactions/{emoji}": {
            "parameters": [ROOM_ID, SEQ, EMOJI],
            "put": operation(
                "addReaction",
                "Add the caller's reaction (already there: no change)",
                {
                    200: one,
                    403: member,
                    404: missing,
                    422: error(422, "validation_error", description="Not an emoji, or 20 on it already."),
                    429: limited,
                },
                changes=True,
            ),
            "delete": operation(
                "removeReaction",
                "Remove the caller's reaction (not there: no change)",
                {
                    200: one,
                    403: member,
                    404: missing,
                    422: error(422, "validation_error", description="Not an emoji."),
                    429: limited,
                },
                changes=True,
            ),
        },
    }

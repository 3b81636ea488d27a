"""The API's requests as pydantic models, and the field types they share with the answers.

With :mod:`common.objects` (the answers), the one schema source: the backend validates every body
and query with these models (:mod:`backend.validation`), and the OpenAPI document
(:mod:`webserver.openapi`) is generated from the same models. Every number comes from
:mod:`common.limits`; a field's ``description`` is what the document says about it. Lengths count
code points, as Python's ``len`` does. No Flask, no I/O.

A rule that JSON Schema can state is stated here (lengths, ranges, choices) and pydantic enforces
it; two are checked in Python and only described to JSON Schema by a pattern: a username's
characters (``str.isalnum``, of any script) and text that is not only white space.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from common import limits as L

# Not only white space: at least one character outside the set Python's str.isspace() accepts.
# Spelled out, because the \s of JSON Schema's regular expressions is a slightly different set.
NOT_BLANK = r"[^\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"


def _username_characters(value: str) -> str:
    if not all(c.isalnum() or c in L.USERNAME_EXTRA for c in value):
        raise PydanticCustomError(
            "username", "Only letters (of any script), digits, '_', '-' and '.' are allowed"
        )
    return value


def _not_blank(value: str) -> str:
    if value.isspace():
        raise PydanticCustomError("blank", "Must not be only white space")
    return value


Username = Annotated[
    str,
    Field(
        min_length=L.USERNAME_MIN,
        max_length=L.USERNAME_MAX,
        description=f"{L.USERNAME_MIN} to {L.USERNAME_MAX} letters (any script), digits, '_', '-' "
        "or '.'; unique ignoring case.",
        json_schema_extra={"pattern": L.USERNAME_PATTERN},
    ),
    AfterValidator(_username_characters),
]
Password = Annotated[str, Field(min_length=L.PASSWORD_MIN, max_length=L.PASSWORD_MAX)]
RoomName = Annotated[
    str,
    Field(min_length=L.ROOM_NAME_MIN, max_length=L.ROOM_NAME_MAX, json_schema_extra={"pattern": NOT_BLANK}),
    AfterValidator(_not_blank),
]
Text = Annotated[
    str,
    Field(min_length=L.MESSAGE_MIN, max_length=L.MESSAGE_MAX, json_schema_extra={"pattern": NOT_BLANK}),
    AfterValidator(_not_blank),
]
ClientId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=L.CLIENT_ID_MAX,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="Made by the client; a repeat by the same sender in the same room is a retry.",
    ),
]
Cursor = Annotated[int, Field(ge=0)]
Wait = Annotated[float, Field(ge=0, le=L.LONG_POLL_MAX_WAIT, allow_inf_nan=False)]
Timestamp = Annotated[
    str,
    Field(
        description="ISO 8601 in UTC with milliseconds and a Z, e.g. 2026-11-26T13:45:51.123Z.",
        json_schema_extra={"format": "date-time"},
    ),
]
Visibility = Literal["public", "private"]


# -- requests ---------------------------------------------------------------------------------


class Body(BaseModel):
    """A JSON request body: values must have their JSON type (no "5" for 5); unknown keys are ignored."""

    model_config = ConfigDict(strict=True)


class SignIn(Body):
    """Sign in, or register a name that is new."""

    username: Username
    password: Password
    create: bool = Field(
        default=True,
        description="Ours: false signs in only; a name nobody has is then 404 not_found, not created.",
    )


class NewRoom(Body):
    """A group room to create; the caller is a member."""

    name: RoomName
    visibility: Visibility = "public"
    members: list[Username] = Field(
        default_factory=list, max_length=L.ROOM_MEMBERS_MAX, description="Registered usernames."
    )


class Person(Body):
    """Someone to add to a room, or to open a direct message with."""

    username: Username


class NewMessage(Body):
    """A message to post."""

    text: Text
    client_id: ClientId
    reply_to: int | None = Field(
        None, ge=1, description="The seq of the message this one answers, in the same room."
    )


class ReadPosition(Body):
    """How far the caller has read a room."""

    seq: Cursor = Field(description="The seq read up to; past the room's last_seq counts as last_seq.")


# -- messages after they are sent (edit, delete, react) -----------------------------------------


class EditedMessage(Body):
    """The new text of a message."""

    text: Text


# -- files: the form fields of an upload (multipart form values are strings, read as such) ------


class NewFile(BaseModel):
    """The parts of an upload besides the file: its client_id, and a caption."""

    client_id: ClientId
    text: str = Field(
        "",
        max_length=L.MESSAGE_MAX,
        description="A caption, optional; white space alone counts as none.",
    )

    @field_validator("text")
    @classmethod
    def _caption(cls, value: str) -> str:
        return value if value.strip() else ""


class HistoryQuery(BaseModel):
    """The query of a history page (strings, read as numbers)."""

    after: Cursor | None = Field(None, description="Messages with seq greater than this. Not with before.")
    before: Cursor | None = Field(None, description="Messages with seq less than this. Not with after.")
    limit: int = Field(L.HISTORY_DEFAULT, ge=1, le=L.HISTORY_MAX, description="Page size.")

    @model_validator(mode="after")
    def _one_direction(self) -> HistoryQuery:
        if self.after is not None and self.before is not None:
            raise PydanticCustomError("after_and_before", "Give 'after' or 'before', not both.")
        return self


class EventsQuery(BaseModel):
    """The query of a user's event feed."""

    after: Cursor | None = Field(
        None, description="The pos of the last event seen. Without it: no events, the current pos."
    )
    wait: Wait = Field(0, description="Seconds to wait for an event when there is none yet.")


class FeedQuery(BaseModel):
    """The query of the whole feed (the front server's hub; internal, not in the document)."""

    after: Cursor = 0
    wait: Wait = 0


# -- search -----------------------------------------------------------------------------------


SearchText = Annotated[
    str,
    Field(
        min_length=L.SEARCH_QUERY_MIN,
        max_length=L.SEARCH_QUERY_MAX,
        description='Words, all required, the last also as a prefix; "quoted words" must appear '
        "together. Case and accents are ignored; FTS operators are plain words.",
        json_schema_extra={"pattern": NOT_BLANK},
    ),
    AfterValidator(_not_blank),
]


class SearchQuery(BaseModel):
    """The query of a search (strings, read as numbers where they are numbers)."""

    q: SearchText
    room: str | None = Field(None, description="Only this room (one the caller may read).")
    before: Cursor | None = Field(None, description="Only messages with pos less than this: the next page.")
    limit: int = Field(L.SEARCH_DEFAULT, ge=1, le=L.SEARCH_MAX, description="Results per page.")

"""The API's objects as its answers carry them, as pydantic models: what the OpenAPI document
says the answers are.

The backend builds these answers as plain dicts on its hot paths (:mod:`backend.model`) rather than
through the models; ``tests/test_openapi.py`` and the schemathesis run check real answers against
the document made from here. No Flask, no I/O.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, RootModel

from common import limits as L
from common.codes import STATUS
from common.schemas import Timestamp, Visibility


class User(BaseModel):
    """Someone registered."""

    username: str


class ListedUser(User):
    """Someone registered, in the user list."""

    online: bool


class Room(BaseModel):
    """A room: group (public or private) or direct message."""

    id: str = Field(description="Opaque, made by the server.")
    name: str = Field(description="A DM's name is its two usernames, sorted, joined by ', '.")
    kind: Literal["group", "dm"]
    visibility: Visibility
    members: list[str]
    last_seq: int = Field(ge=0)
    created_by: str | None = Field(description="null for 'general'.")
    created_at: Timestamp


class ListedRoom(Room):
    """A room as the caller sees it in lists and on its own."""

    member: bool = Field(description="Whether the caller is a member.")
    read_seq: int = Field(
        None,
        ge=0,
        description="In GET /api/rooms, for the caller's own rooms only: the seq they have read "
        "up to (0 when nothing was read).",
        json_schema_extra=lambda schema: schema.pop("default", None),
    )


def _absent(description: str, *, timestamp: bool = False, **constraints: Any) -> Any:
    """A field that is left out when it does not apply (the document shows no null and no default)."""

    def no_default(schema: dict) -> None:
        schema.pop("default", None)
        if timestamp:
            schema["format"] = "date-time"

    return Field(None, description=description, json_schema_extra=no_default, **constraints)


class Reaction(BaseModel):
    """One emoji on a message and who reacted with it, in the order they did."""

    emoji: str = Field(description="A Unicode emoji or a :short_name:.")
    users: list[str] = Field(min_length=1)


# -- files --


class ImageInfo(BaseModel):
    """An image shown inline: its size and its thumbnail."""

    width: int = Field(ge=1)
    height: int = Field(ge=1)
    thumb_url: str = Field(description=f"A thumbnail at most {L.THUMB_SIDE} px on its longer side.")


class FileInfo(BaseModel):
    """A message's attachment."""

    id: str = Field(description="Opaque, made by the server; one per upload.")
    name: str = Field(description="The uploader's name for it, cleaned (no path, no control characters).")
    size: int = Field(ge=0, description="Bytes.")
    type: str = Field(description="The MIME type read from the file's own bytes.")
    url: str = Field(description="Where to download it (GET; the caller must be able to read the room).")
    image: ImageInfo | None = Field(
        description="For a PNG, JPEG, GIF or WebP image of at most "
        f"{L.MAX_IMAGE_PIXELS:,} pixels that could be read; null for anything else."
    )
    sha256: str = Field(description="The SHA-256 of the bytes, in hex (also the download's ETag).")


class Message(BaseModel):
    """A stored message, as it is now (edits, deletion and reactions applied)."""

    id: str
    room: str = Field(description="The room's id.")
    seq: int = Field(ge=1, description="1, 2, 3 ... within the room.")
    pos: int = Field(ge=1, description="The event's place in the feed.")
    sender: str
    text: str = Field(description='"" once deleted.')
    ts: Timestamp
    client_id: str
    # -- only when they apply (messages after they are sent): absent otherwise, never null --
    edited_at: str = _absent("When the text was last changed (like ts); only then.", timestamp=True)
    deleted: Literal[True] = _absent("A tombstone: text is empty; no reactions, no file, no edited_at.")
    reactions: list[Reaction] = _absent(
        "In order of first use; only when there are some.", max_length=L.REACTIONS_MAX
    )
    reply_to: int = _absent("The seq of the message it answers, same room.", ge=1)
    file: FileInfo = _absent("The attachment (Files); only on a message that has one, never once deleted.")


class MessageEvent(BaseModel):
    """A message was stored."""

    type: Literal["message"]
    pos: int = Field(ge=1)
    message: Message


class UpdateEvent(BaseModel):
    """A message was edited, deleted or reacted to: the whole message as it is now."""

    type: Literal["update"]
    pos: int = Field(ge=1)
    message: Message


class RoomEvent(BaseModel):
    """A room was created, or someone joined, was added or left."""

    type: Literal["room"]
    pos: int = Field(ge=1)
    room: Room = Field(description="The room right after the change.")
    action: Literal["created", "joined", "added", "left"]
    user: str | None = Field(
        description="Who joined, was added or left; the creator for 'created' (null: 'general')."
    )


class ReadEvent(BaseModel):
    """The caller's read position in a room moved (on another tab or device too); only for them."""

    type: Literal["read"]
    pos: int = Field(ge=1)
    room: str = Field(description="The room's id.")
    seq: int = Field(ge=0, description="The seq read up to.")
    user: str = Field(description="The reader: always the caller.")


class Event(
    RootModel[Annotated[MessageEvent | UpdateEvent | RoomEvent | ReadEvent, Field(discriminator="type")]]
):
    """One event of the feed, told apart by its type."""


class ErrorDetail(BaseModel):
    """What went wrong."""

    code: Literal[tuple(STATUS)] = Field(description="For programs; see docs/api.md.")  # type: ignore[valid-type]
    message: str = Field(description="A sentence for people, not for code.")


class Error(BaseModel):
    """Every error answer."""

    error: ErrorDetail


# -- the answers' bodies ----------------------------------------------------------------------


class OneUser(BaseModel):
    """The user."""

    user: User


class UserList(BaseModel):
    """Everyone registered."""

    users: list[ListedUser]


class OneRoom(BaseModel):
    """The room."""

    room: Room


class OneListedRoom(BaseModel):
    """The room, with whether the caller is a member."""

    room: ListedRoom


class RoomList(BaseModel):
    """The caller's rooms and every public room."""

    rooms: list[ListedRoom]


class OneMessage(BaseModel):
    """The message."""

    message: Message


class HistoryPage(BaseModel):
    """A page of history, oldest first."""

    messages: list[Message] = Field(max_length=L.HISTORY_MAX)
    last_seq: int = Field(ge=0)


class TypingSignal(BaseModel):
    """Someone else is typing in a room (the WebSocket's typing frame); shown for a few seconds."""

    type: Literal["typing"]
    room: str
    user: str


class EventBatch(BaseModel):
    """Events after the cursor, oldest first; pos is the next cursor."""

    events: list[Event] = Field(max_length=L.EVENTS_BATCH)
    pos: int = Field(ge=0)
    more: bool
    signals: list[TypingSignal] | None = Field(
        default=None,
        description="Ours: typing notices that woke a caught-up long-poll, never stored or replayed; "
        "absent when there are none.",
    )
    backend: Literal["unavailable"] = _absent(
        "Ours: present only while the front server cannot reach its backend (a long-poll it answered "
        "itself); messages cannot be stored meanwhile."
    )


class SearchResults(BaseModel):
    """Matching messages as they are now, newest first."""

    results: list[Message] = Field(max_length=L.SEARCH_MAX)
    more: bool = Field(description="Whether more match: ask again with before = the last result's pos.")
    partial: bool = Field(
        description="Ours: the index had not yet caught up with the log (rebuilding at start-up), so "
        "some matches may be missing."
    )


class Span(BaseModel):
    """Lengths in code points, both ends included."""

    min: int
    max: int


class UsernameLimits(Span):
    """A username's lengths, and its characters as a regular expression (use the u flag)."""

    pattern: str


class HistoryLimits(BaseModel):
    """Messages per page of history."""

    default: int
    max: int


class ReactionLimits(Span):
    """A reaction's emoji in code points, and how many distinct emoji one message may carry."""

    per_message: int


class SearchLimits(Span):
    """Code points of a search's q, and the results on one page."""

    page: int


class AppLimits(BaseModel):
    """The limits the app checks before it sends (common/limits.py)."""

    username: UsernameLimits
    password: Span
    room_name: Span
    message: Span
    history: HistoryLimits
    long_poll_max_wait: int
    reaction: ReactionLimits
    search: SearchLimits
    upload_max_bytes: int = Field(description="The largest file an upload may carry.")

"""Messages after they are sent: the current state of every changed message, kept in memory.

A change to a message (an ``edit``, a ``delete``, a ``react``) is its own line in ``events.jsonl``
with its own ``pos``, naming the message by room and seq (Matrix's ``m.replace`` and redactions);
the ``message`` line keeps what was first sent until ``backend.py --compact``. :class:`Changes` folds
those lines into one :class:`Change` per changed message, keyed by (room number, seq): a message
that never changed costs nothing here. The store feeds it every change line through the same
:meth:`Changes.prepare` and :meth:`Changes.commit`, at start-up and after each append.

A :class:`Change` is never modified once made: a new change replaces it in the dict (one atomic
store under the GIL). Readers take no lock, so the served bytes they cache on a Change always match
that Change's state, and a newer change can never be shadowed by a stale cache. No I/O here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

import orjson

from common import limits as L

from .model import Room

KINDS = frozenset({"edit", "delete", "react"})

# Fields a tombstone keeps from the message as sent: where it was, who sent it and when, and what
# it answered. Everything that was content (text, file, reactions, edited_at) is gone.
TOMBSTONE_FIELDS = ("id", "room", "seq", "pos", "sender", "ts", "client_id", "reply_to")
_KEPT = frozenset((*TOMBSTONE_FIELDS, "text"))


class Change:
    """How one message differs from its ``message`` line; immutable (see the module docstring)."""

    __slots__ = ("pos", "text", "edited_at", "deleted", "reactions", "served")

    def __init__(
        self,
        pos: int,
        text: str | None = None,
        edited_at: str | None = None,
        deleted: bool = False,
        reactions: tuple[tuple[str, tuple[str, ...]], ...] = (),
    ):
        self.pos = pos  # the message's own pos (its ``message`` line)
        self.text = text  # the latest edit's text, or None if never edited
        self.edited_at = edited_at
        self.deleted = deleted
        self.reactions = reactions  # ((emoji, (user, ...)), ...) in order of first use
        self.served: bytes | None = None  # the current message as JSON, made on first read

    def edited(self, text: str, at: str) -> Change:
        """A copy with the text of an edit made at ``at``."""
        return Change(self.pos, text, at, self.deleted, self.reactions)

    def removed(self) -> Change:
        """Deleted: nothing of the content is kept, not even in memory."""
        return Change(self.pos, None, None, True, ())

    def reacted(self, reactions: tuple[tuple[str, tuple[str, ...]], ...]) -> Change:
        """A copy with these reactions."""
        return Change(self.pos, self.text, self.edited_at, self.deleted, reactions)

    def copy(self) -> Change:
        """A copy with the same state (and no served bytes yet)."""
        return Change(self.pos, self.text, self.edited_at, self.deleted, self.reactions)

    def users_of(self, emoji: str) -> tuple[str, ...]:
        """Who reacted with ``emoji``."""
        for name, users in self.reactions:
            if name == emoji:
                return users
        return ()

    def current(self, message: dict) -> dict:
        """``message`` (as first stored) as it is now."""
        if self.deleted:
            return tombstone(message)
        now = dict(message)
        if self.text is not None:
            now["text"] = self.text
            now["edited_at"] = self.edited_at
        if self.reactions:
            now["reactions"] = [{"emoji": emoji, "users": list(users)} for emoji, users in self.reactions]
        return now

    def message_bytes(self, message: dict) -> bytes:
        """:meth:`current` as JSON, cached on this Change (the same answer every time)."""
        served = self.served
        if served is None:
            served = self.served = orjson.dumps(self.current(message))
        return served


def tombstone(message: dict) -> dict:
    """A deleted message as served: where it was and who sent it, ``"deleted": true``, text ""."""
    kept = {name: "" if name == "text" else value for name, value in message.items() if name in _KEPT}
    kept["deleted"] = True
    return kept


class Changes:
    """Every changed message's :class:`Change`, and which positions must be served rebuilt."""

    def __init__(self):
        self._by_key: dict[tuple[int, int], Change] = {}
        # pos -> (room number, seq) for every change line and every changed message's own line:
        # the feeds serve these rebuilt; any other pos is served as stored, byte for byte.
        self.rebuilt: dict[int, tuple[int, int]] = {}

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, room: Room, seq: int) -> Change | None:
        """The message's Change, or None if it never changed."""
        return self._by_key.get((room.number, seq))

    def by_key(self, key: tuple[int, int]) -> Change:
        """The Change of ``(room number, seq)``, a key of :attr:`rebuilt`."""
        return self._by_key[key]

    def items(self) -> Iterable[tuple[tuple[int, int], Change]]:
        """``((room number, seq), Change)`` for every changed message."""
        return list(self._by_key.items())

    def prepare(self, room: Room, record: dict) -> Change:
        """The Change that ``record`` (an edit, delete or react line) makes; nothing is changed yet.

        Raises ValueError (or KeyError, TypeError) for a line that does not fit: an unknown seq,
        or fields of the wrong type. Who may make a change is checked before it is appended
        (:mod:`backend.lifecycle`); a line that was appended was allowed.
        """
        seq = record["seq"]
        if type(seq) is not int or not 1 <= seq <= room.last_seq or room.seq_pos[seq - 1] <= 0:
            raise ValueError(f"no message {seq!r} in room {room.id}")
        if type(record["user"]) is not str or type(record["ts"]) is not str:
            raise ValueError("user and ts must be strings")
        change = self._by_key.get((room.number, seq)) or Change(room.seq_pos[seq - 1])
        if record.get("redacted"):  # a line emptied by --compact: it changes nothing any more
            return change.copy()
        kind = record["type"]
        if kind == "edit":
            if type(record["text"]) is not str:
                raise ValueError("an edit's text must be a string")
            return change.edited(record["text"], record["ts"])
        if kind == "delete":
            return change.removed()
        if kind == "react":
            emoji, added = record["emoji"], record["added"]
            if type(emoji) is not str or type(added) is not bool:
                raise ValueError("a reaction needs an emoji and added true or false")
            return change.reacted(_react(change.reactions, emoji, record["user"], added))
        raise ValueError(f"not a change to a message: {kind!r}")

    def commit(self, room: Room, seq: int, change: Change, pos: int) -> None:
        """Make ``change`` (from :meth:`prepare`) the message's state as of change line ``pos``."""
        key = (room.number, seq)
        self._by_key[key] = change  # first: a reader that finds a pos in ``rebuilt`` finds this
        self.rebuilt[pos] = key
        self.rebuilt[change.pos] = key


def _react(
    reactions: tuple[tuple[str, tuple[str, ...]], ...], emoji: str, user: str, added: bool
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    out, found = [], False
    for name, users in reactions:
        if name == emoji:
            found = True
            if added and user not in users:
                users = (*users, user)
            elif not added:
                users = tuple(u for u in users if u != user)
        if users:
            out.append((name, users))
    if added and not found:
        out.append((emoji, (user,)))
    return tuple(out)


# -- the rules of a reaction's emoji ----------------------------------------------------------------

_SHORT_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-")


def emoji_problem(emoji: str) -> str | None:
    """Why ``emoji`` is not a reaction the contract allows, or None if it is.

    1 to 32 code points, no white space or control character, and either a ``:short_name:``
    (letters, digits, ``_``, ``+``, ``-`` between two colons) or a Unicode emoji, which here means
    text with no ASCII letter-or-word character of its own: the server does not keep a table of
    emoji, but a word such as ``ok`` must be written ``:ok:``.
    """
    if not L.EMOJI_MIN <= len(emoji) <= L.EMOJI_MAX:
        return f"An emoji is {L.EMOJI_MIN} to {L.EMOJI_MAX} characters."
    for char in emoji:
        if char.isspace() or unicodedata.category(char) in ("Cc", "Cs", "Zs", "Zl", "Zp"):
            return "An emoji holds no white space or control character."
    if emoji.startswith(":") or emoji.endswith(":"):
        inner = emoji[1:-1]
        if len(emoji) >= 3 and emoji[0] == emoji[-1] == ":" and set(inner) <= _SHORT_NAME_CHARS:
            return None
        return "A short name is written :name: with letters, digits, '_', '+' or '-'."
    if all(char.isascii() for char in emoji):
        return "Give a Unicode emoji, or a short name such as :thumbsup:."
    return None

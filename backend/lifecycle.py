"""The store's methods for messages after they are sent: read one, edit, delete, react.

:class:`Lifecycle` is a part of :class:`backend.store.Store` (kept apart to keep each module short);
it uses the store's lock, rooms, log and :class:`backend.changes.Changes`. Each change is checked
against the domain under the lock and appended with the store's own ``_append``, so it is applied
by the same code at start-up and live. A request that would change nothing (the same text, a
reaction already there, a message already deleted) appends nothing and answers the message as it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

import orjson

from common import limits as L

from .changes import Change, emoji_problem
from .clock import now_iso
from .model import GROUP, Room
from .refusals import Forbidden, Invalid, NotAMember, NotFound


class Lifecycle:
    """Reading and changing one message; mixed into :class:`backend.store.Store`."""

    # What edits read the time from (the edit window); tests may replace it.
    clock: Callable[[], float] = staticmethod(time.time)

    def current(self, room_id: str, seq: int) -> dict | None:
        """The message as it is now (edits, tombstone, reactions), no access check; None if none."""
        room = self._rooms.by_id.get(room_id)
        if room is None or type(seq) is not int or not 1 <= seq <= room.last_seq:
            return None
        pos = room.seq_pos[seq - 1]
        return self._current_at(room, seq, pos) if pos > 0 else None

    def message(self, username: str, room_id: str, seq: int) -> dict:
        """The message as it is now, if ``username`` may read the room; else NotFound."""
        self.room(username, room_id)
        message = self.current(room_id, seq)
        if message is None:
            raise NotFound("No such message.")
        return message

    def edit_message(
        self,
        username: str,
        room_id: str,
        seq: int,
        text: str,
        window: float = 0,
        admit: Callable[[], None] | None = None,
    ) -> dict:
        """Replace the text of ``username``'s own message; the message as it is after.

        ``window`` (seconds, 0 for none) is how long after sending an edit is allowed. ``admit``
        runs only when a line will be written (the sender's message rate limit).
        """
        with self._lock:
            room, message = self._live_message(username, room_id, seq)
            if message["sender"] != username:
                raise Forbidden("Only its sender can edit a message.")
            self._require_member(room, username)
            if window and self.clock() - _epoch(message["ts"]) > window:
                raise Forbidden(
                    f"The edit window has closed: messages can be edited for {window:g} seconds "
                    "after they are sent."
                )
            if text == message["text"]:
                return message
            if admit is not None:
                admit()
            record = {"type": "edit", "room": room.id, "seq": seq, "user": username, "text": text}
            return self._append_change(room, seq, record)

    def delete_message(self, username: str, room_id: str, seq: int) -> None:
        """Delete a message: its sender or the creator of its group room; deleting twice is fine."""
        with self._lock:
            room = self.room(username, room_id)
            message = self.current(room_id, seq)
            if message is None:
                raise NotFound("No such message.")
            creator = room.kind == GROUP and room.created_by == username
            if message["sender"] != username and not creator:
                raise Forbidden("Only its sender or the room's creator can delete a message.")
            self._require_member(room, username)
            if not message.get("deleted"):
                self._append_change(
                    room, seq, {"type": "delete", "room": room.id, "seq": seq, "user": username}
                )

    def react(
        self,
        username: str,
        room_id: str,
        seq: int,
        emoji: str,
        added: bool,
        admit: Callable[[], None] | None = None,
    ) -> dict:
        """Add (``added``) or remove the caller's reaction ``emoji``; the message as it is after."""
        with self._lock:
            room, message = self._live_message(username, room_id, seq)
            self._require_member(room, username)
            problem = emoji_problem(emoji)
            if problem:
                raise Invalid(problem)
            change = self._changes.get(room, seq)
            users = change.users_of(emoji) if change else ()
            if added == (username in users):
                return message
            if added and not users and change and len(change.reactions) >= L.REACTIONS_MAX:
                raise Invalid(f"A message can have at most {L.REACTIONS_MAX} different emoji.")
            if admit is not None:
                admit()
            record = {"type": "react", "room": room.id, "seq": seq, "user": username, "emoji": emoji}
            record["added"] = added
            return self._append_change(room, seq, record)

    def reply_target(self, room: Room, reply_to: int | None) -> None:
        """Check that ``reply_to`` names a message of ``room`` (a deleted one too), else Invalid."""
        if reply_to is None:
            return
        if not 1 <= reply_to <= room.last_seq or room.seq_pos[reply_to - 1] <= 0:
            raise Invalid(f"'reply_to': there is no message {reply_to} in this room.")

    # -- helpers (callers hold the lock where they change anything) -------------------------------

    def _live_message(self, username: str, room_id: str, seq: int) -> tuple[Room, dict]:
        """The room and the message as it is now, for a change: NotFound if hidden or deleted."""
        room = self.room(username, room_id)
        message = self.current(room_id, seq)
        if message is None or message.get("deleted"):
            raise NotFound("No such message." if message is None else "This message was deleted.")
        return room, message

    @staticmethod
    def _require_member(room: Room, username: str) -> None:
        if not room.has_member(username):
            raise NotAMember("You are not a member of this room.")

    def _append_change(self, room: Room, seq: int, record: dict) -> dict:
        event = {"type": record["type"], "pos": self.pos + 1}
        event.update(record)
        event["ts"] = now_iso()
        self._append(event)
        return self._current_at(room, seq, room.seq_pos[seq - 1])

    def _current_at(self, room: Room, seq: int, pos: int) -> dict:
        change = self._changes.get(room, seq)
        if change is None:
            return self._log.event(pos)["message"]
        return orjson.loads(self._message_bytes(change))

    def _message_bytes(self, change: Change) -> bytes:
        served = change.served
        if served is None:
            served = change.message_bytes(self._log.event(change.pos)["message"])
        return served

    def _served_line(self, pos: int) -> bytes:
        """Event ``pos`` as the feeds serve it: as stored, unless it is about a changed message.

        A change line is served as ``{"type": "update", "pos", "message"}`` and a changed message's
        own line as its ``message`` event; both carry the message as it is now.
        """
        key = self._changes.rebuilt.get(pos)
        if key is None:
            if pos in self._rooms.changes:
                return self._membership_line(pos)
            return self._log.line(pos)
        change = self._changes.by_key(key)
        kind = b"message" if pos == change.pos else b"update"
        return b'{"type":"%s","pos":%d,"message":%s}' % (kind, pos, self._message_bytes(change))

    def _membership_line(self, pos: int) -> bytes:
        """A membership change, stored without the member list, served with it as of ``pos``."""
        event = self._log.event(pos)
        room = self._rooms.by_id[event["room"]["id"]]
        event["room"]["members"] = room.members_after(pos)
        return orjson.dumps(event)


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts).timestamp()

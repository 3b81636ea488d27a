"""Each member's read position in a room, kept on the server: the ``read`` kind of event.

A move of a read position is an event ``{"type": "read", "pos", "room", "user", "seq"}`` in the
log like any other, so it is replayed at start-up by the same code and carried to the reader's
other tabs and devices by the same feeds; it concerns only its reader (``backend/audience.py``).
Positions only move forward: a request for an earlier seq, or the same one, appends nothing.
"""

from __future__ import annotations

from .model import Room


def check_read(record: dict) -> None:
    """Raise ValueError for a ``read`` record that does not fit, before anything is applied."""
    if not (type(record.get("user")) is str and type(record.get("seq")) is int and record["seq"] >= 0):
        raise ValueError("a read event needs a user and a seq of 0 or more")


def apply_read(room: Room, record: dict) -> None:
    """Move ``record["user"]``'s read position in ``room`` (never back)."""
    user, seq = record["user"], record["seq"]
    if seq > room.read_seq.get(user, 0):
        room.read_seq[user] = seq


class Reading:
    """Moving a read position; mixed into :class:`backend.store.Store`, using its lock and log."""

    def mark_read(self, username: str, room_id: str, seq: int) -> None:
        """Move ``username``'s read position in the room to ``seq`` (at most the room's last_seq).

        The rules of reading the room apply (a room the user may not see is NotFound); an earlier
        or equal position changes nothing and appends nothing.
        """
        with self._lock:
            room = self.room(username, room_id)
            target = min(seq, room.last_seq)
            if target > room.read_seq.get(username, 0):
                self._append(
                    {"type": "read", "pos": self.pos + 1, "room": room.id, "user": username, "seq": target}
                )

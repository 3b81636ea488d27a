"""What search reads from the store: the log by ``pos``, messages by room and seq, the caller's rooms.

:class:`SearchSource` is a part of :class:`backend.store.Store` (kept apart to keep each module
short). The index's follower (:mod:`backend.searchindex`) reads the log through it after each
append, taking no lock, as every reader of the store does; the search route
(:mod:`backend.search`) asks it which rooms a caller's search covers and for each match as it is now.
"""

from __future__ import annotations

import orjson


class SearchSource:
    """The store's reads for search; mixed into :class:`backend.store.Store`."""

    @property
    def log_path(self) -> str:
        """The path of ``events.jsonl``."""
        return self._log.path

    def wait_past(self, pos: int, timeout: float) -> None:
        """Block until the log holds an event after ``pos``, or ``timeout`` seconds passed."""
        self._wait_past(pos, timeout)

    def line(self, pos: int) -> bytes | None:
        """Event ``pos`` as stored, or None (not yet written, or an unreadable line skipped)."""
        return self._log.line(pos) if 0 < pos <= self.pos and self._log.has(pos) else None

    def message_pos(self, room_id: str, seq: int) -> int | None:
        """The ``pos`` of message ``seq`` of a room, or None if there is no such message."""
        room = self._rooms.by_id.get(room_id)
        if room is None or type(seq) is not int or not 0 < seq <= len(room.seq_pos):
            return None
        pos = room.seq_pos[seq - 1]
        return pos if pos > 0 else None

    def search_rooms(self, username: str, room_id: str | None) -> tuple[list[str], float]:
        """The ids of the rooms a search looks in, and their share of all messages (0 to 1).

        With ``room_id``, that room if the user may read it (public included), else NotFound;
        without, every room the user is a member of now.
        """
        rooms = list(self._rooms.in_order)
        if room_id is not None:
            chosen = [self.room(username, room_id)]
        else:
            chosen = [room for room in rooms if room.has_member(username)]
        total = sum(room.last_seq for room in rooms)
        share = sum(room.last_seq for room in chosen) / total if total else 1.0
        return [room.id for room in chosen], share

    def room_of(self, pos: int) -> str:
        """The id of the room event ``pos`` belongs to."""
        return self._rooms.in_order[self._log.room_number(pos)].id

    def message_at(self, pos: int) -> dict | None:
        """The message stored as event ``pos``, as it is now; None if that event is not a message."""
        line = self.line(pos)
        stored = orjson.loads(line).get("message") if line is not None else None
        return self.current(stored["room"], stored["seq"]) if isinstance(stored, dict) else None

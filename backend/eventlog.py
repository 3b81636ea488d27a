"""``events.jsonl`` and the index that finds any event's line by its ``pos`` without a scan.

Three arrays indexed by ``pos - 1`` hold each event's byte offset, line length and room number:
about 20 bytes per event, so a million messages cost some 20 MB and any history page or feed reads
only the lines it returns. Positions whose line was unreadable at start-up stay empty (offset -1).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

import orjson

from .jsonl import JsonlFile


class EventLog:
    """The durable event log with random access by ``pos``. Callers serialise writes."""

    def __init__(self, path: str):
        self._file = JsonlFile(path)
        self._offsets, self._lengths, self._rooms = array("q"), array("l"), array("l")

    @property
    def path(self) -> str:
        """The log file's path."""
        return self._file.path

    def close(self) -> None:
        """Release the file."""
        self._file.close()

    @property
    def size(self) -> int:
        """Bytes of complete, durable lines."""
        return self._file.size

    def recover(self, start: int = 0) -> Iterator[tuple[int, int, dict]]:
        """Every readable record from byte ``start`` with its place, repairing a torn tail (see
        :mod:`backend.jsonl`)."""
        return self._file.recover(start)

    def arrays(self) -> tuple[array, array, array]:
        """The index itself (offsets, lengths, room numbers), for a checkpoint."""
        return self._offsets, self._lengths, self._rooms

    def restore(self, arrays: tuple[array, array, array]) -> None:
        """Take the index of a checkpoint (see :meth:`arrays`)."""
        self._offsets, self._lengths, self._rooms = arrays

    def append(self, record: dict) -> tuple[int, int]:
        """Write and fsync one event; return its ``(offset, length)``."""
        return self._file.append(record)

    def index(self, pos: int, offset: int, length: int, room_number: int) -> None:
        """Record where event ``pos`` is; positions skipped since the last one stay empty."""
        while len(self._offsets) < pos - 1:
            self._offsets.append(-1), self._lengths.append(0), self._rooms.append(0)
        self._offsets.append(offset), self._lengths.append(length), self._rooms.append(room_number)

    def has(self, pos: int) -> bool:
        """Whether event ``pos`` exists (it may be a gap left by an unreadable line)."""
        return self._offsets[pos - 1] >= 0

    def room_number(self, pos: int) -> int:
        """The number of the room event ``pos`` belongs to."""
        return self._rooms[pos - 1]

    def place(self, pos: int) -> tuple[int, int]:
        """Where event ``pos``'s line is: ``(byte offset, length with its newline)``."""
        return self._offsets[pos - 1], self._lengths[pos - 1]

    def line(self, pos: int) -> bytes:
        """Event ``pos`` as stored: one JSON object."""
        return self._file.read(self._offsets[pos - 1], self._lengths[pos - 1])

    def event(self, pos: int) -> dict:
        """Event ``pos``, parsed."""
        return orjson.loads(self.line(pos))

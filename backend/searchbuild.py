"""Catching the search index up with a long stretch of the log, in a process of its own.

Indexing a million messages takes about a minute of CPU, much of it parsing lines and driving
SQLite from Python. In a thread of the backend that would hold the interpreter's lock against the
request threads and slow every acknowledgement meanwhile; so when the index is far behind the log,
the follower (:mod:`backend.searchindex`) runs ``python -m backend.searchbuild INDEX LOG UPTO`` and
waits for it. This process reads the log by itself (where each event's line is, and each message's
``pos`` by room and ``seq``, for the edits and deletions that refer to them), indexes events up to
``UPTO`` with the follower's own code, committing batch by batch as it does, and exits. The
follower then reopens the index and goes on from the ``pos`` stored in it.
"""

from __future__ import annotations

import logging
import os
import sys
from array import array

import orjson

from .searchindex import SearchIndex


class LogScan:
    """``events.jsonl`` up to event ``upto``, read once: the place of every line, every message's pos."""

    def __init__(self, path: str, upto: int):
        self.log_path = path
        self.pos = 0
        self._fd = os.open(path, os.O_RDONLY)
        self._offsets, self._lengths = array("q"), array("l")
        self._messages: dict[str, array] = {}  # room id -> pos of each seq (seq 1 first)
        offset = 0
        with open(path, "rb", buffering=1 << 20) as lines:
            for line in lines:
                if not line.endswith(b"\n") or self.pos >= upto:
                    break  # an unfinished last line was never acknowledged
                self._take(offset, line, upto)
                offset += len(line)

    def _take(self, offset: int, line: bytes, upto: int) -> None:
        try:
            record = orjson.loads(line)
            pos = record["pos"]
        except (orjson.JSONDecodeError, TypeError, KeyError):
            return
        if type(pos) is not int or not self.pos < pos <= upto:
            return  # the store skips these too
        while len(self._offsets) < pos - 1:
            self._offsets.append(-1), self._lengths.append(0)
        self._offsets.append(offset), self._lengths.append(len(line))
        self.pos = pos
        message = record.get("message") if record.get("type") == "message" else None
        if (
            isinstance(message, dict)
            and isinstance(message.get("room"), str)
            and type(message.get("seq")) is int
        ):
            seqs = self._messages.setdefault(message["room"], array("q"))
            while len(seqs) < message["seq"] - 1:
                seqs.append(-1)
            if len(seqs) == message["seq"] - 1:
                seqs.append(pos)

    def line(self, pos: int) -> bytes | None:
        """Event ``pos``'s line, or None."""
        if not 0 < pos <= len(self._offsets) or self._offsets[pos - 1] < 0:
            return None
        return os.pread(self._fd, self._lengths[pos - 1], self._offsets[pos - 1]).rstrip(b"\n")

    def message_pos(self, room_id: str, seq: int) -> int | None:
        """The pos of message ``seq`` of a room, or None."""
        seqs = self._messages.get(room_id)
        if seqs is None or type(seq) is not int or not 0 < seq <= len(seqs) or seqs[seq - 1] < 0:
            return None
        return seqs[seq - 1]

    def wait_past(self, pos: int, timeout: float) -> None:
        """Nothing is appended to a scan."""


def build(index_path: str, log_path: str, upto: int) -> int:
    """Index the log's events up to ``upto`` into ``index_path``; the pos the index reached."""
    return SearchIndex(index_path, LogScan(log_path, upto)).catch_up()


if __name__ == "__main__":
    logging.basicConfig(format="search index builder: %(message)s")
    # Below the backend in the scheduler's eyes: on a busy machine its requests come first.
    os.nice(10)
    build(sys.argv[1], sys.argv[2], int(sys.argv[3]))

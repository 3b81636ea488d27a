"""One append-only JSON-lines file: crash recovery on open, durable appends, reads by offset.

Every record is one line. An append writes the whole line and fsyncs before it returns, so a caller
that got an answer knows the record is on disk. A crash can only tear the *last* line (appends go to
the end and nothing is rewritten), so recovery truncates an unterminated tail; a line that is not
valid JSON anywhere else is logged with its file and line number and skipped, never fatal.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import orjson

log = logging.getLogger(__name__)


class StorageError(Exception):
    """A write could not be made durable (disk full, read-only file, I/O error)."""


class JsonlFile:
    """An append-only file of JSON objects, one per line. Not thread-safe: callers hold a lock."""

    def __init__(self, path: str):
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._size = os.fstat(self._fd).st_size

    def close(self) -> None:
        """Release the file descriptor."""
        os.close(self._fd)

    @property
    def size(self) -> int:
        """Bytes of complete, durable records."""
        return self._size

    def recover(self, start: int = 0) -> Iterator[tuple[int, int, dict]]:
        """Yield ``(offset, length, record)`` for every readable line from byte ``start`` (the
        start of a line: 0, or the end of a checkpointed prefix), repairing the file on the way.

        An unterminated last line is a write that was never acknowledged (the newline is written
        with the record, and the answer waits for fsync), so it is cut off.
        """
        end = self._complete_size()
        if end < self._size:
            log.warning(
                "%s: cutting an unfinished last line (%d bytes) left by a crash", self.path, self._size - end
            )
            os.ftruncate(self._fd, end)
            os.fsync(self._fd)
            self._size = end
        offset = start
        with open(self.path, "rb", buffering=1 << 20) as lines:
            lines.seek(start)
            for line_number, line in enumerate(lines, 1):
                if offset >= end:
                    break
                if line.strip():
                    record = _parse(line)
                    if record is None:
                        log.warning(
                            "%s:%d: skipping a line that is not a JSON object", self.path, line_number
                        )
                    else:
                        yield offset, len(line), record
                offset += len(line)

    def _complete_size(self) -> int:
        """The size up to and including the last newline."""
        position = self._size
        while position > 0:
            start = max(0, position - 65536)
            chunk = os.pread(self._fd, position - start, start)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                return start + newline + 1
            position = start
        return 0

    def append(self, record: dict) -> tuple[int, int]:
        """Write ``record`` as one line and fsync it; return its ``(offset, length)``.

        On any failure the file is cut back to where it was, so no half record stays behind,
        and :class:`StorageError` is raised.
        """
        line = orjson.dumps(record) + b"\n"
        offset = self._size
        try:
            written = os.pwrite(self._fd, line, offset)
            if written != len(line):
                raise OSError(f"short write: {written} of {len(line)} bytes")
            os.fsync(self._fd)
        except OSError as error:
            self._cut_back(offset)
            raise StorageError(f"could not write to {self.path}: {error.strerror or error}") from error
        self._size = offset + len(line)
        return offset, len(line)

    def read(self, offset: int, length: int) -> bytes:
        """Return the raw line (without its newline) stored at ``offset``."""
        return os.pread(self._fd, length, offset).rstrip(b"\n")

    def _cut_back(self, size: int) -> None:
        try:
            os.ftruncate(self._fd, size)
        except OSError:
            log.exception("%s: could not cut back a failed write; recovery will on next start", self.path)


def _parse(line: bytes) -> dict | None:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None

"""The request threads' side of the search index: each thread's connection, and the query.

Every request thread that searches gets its own SQLite connection (a connection is not to be
shared between threads that use it at once), opened on first use and again after the index file
was replaced by a rebuild (:meth:`Readers.replaced`). They map the file rather than copying its
pages into each connection's own small cache, so they share the kernel's page cache. No writes.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

NEWEST = 1 << 62  # a ``before`` past every pos
SEARCH = "SELECT rowid FROM messages WHERE messages MATCH ? AND rowid < ? ORDER BY rowid DESC"
MMAP_BYTES = 1 << 30


class Readers:
    """The connections of the threads that search one index file."""

    def __init__(self, path: str):
        self.path = path
        self.generation = 0  # bumped when the file is replaced, so each thread reopens it
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []  # every thread's, closed by close_all()
        self._lock = threading.Lock()

    def replaced(self) -> None:
        """The file was made again (or is ready for the first time): reopen on next use."""
        with self._lock:
            self.generation += 1

    def close_all(self) -> None:
        """Close every thread's connection (a thread that searches again opens a new one)."""
        with self._lock:
            readers, self._all = self._all, []
            self.generation += 1
        for db in readers:
            db.close()  # the last connection to close checkpoints and removes the WAL file

    def search(
        self, expression: str, before: int | None, limit: int, keep: Callable[[int], bool] | None = None
    ) -> list[int]:
        """The ``pos`` of up to ``limit`` matching messages below ``before``, newest first.

        ``keep``, when given, is asked about each match in turn (FTS5 streams them newest first)
        until ``limit`` are kept. An index that cannot be read answers nothing (its follower
        repairs it), never an error.
        """
        below = NEWEST if before is None else min(before, NEWEST)
        try:
            db = self._connection()
            if db is None:
                return []
            if keep is None:
                rows = db.execute(SEARCH + " LIMIT ?", (expression, below, limit)).fetchall()
                return [row[0] for row in rows]
            cursor = db.execute(SEARCH, (expression, below))
            found: list[int] = []
            while len(found) < limit:
                rows = cursor.fetchmany(limit)
                if not rows:
                    break
                found.extend(row[0] for row in rows if keep(row[0]))
            cursor.close()
            return found[:limit]
        except sqlite3.Error as error:
            log.warning("%s: search failed (%s)", self.path, error)
            self._local.db = None
            return []

    def _connection(self) -> sqlite3.Connection | None:
        """This thread's connection, reopened after the file was replaced; None before it exists."""
        local = self._local
        if getattr(local, "db", None) is not None and local.generation == self.generation:
            return local.db
        generation = self.generation
        if getattr(local, "db", None) is not None:  # of a file since replaced
            with self._lock:
                if local.db in self._all:
                    self._all.remove(local.db)
            local.db.close()
        local.db = None
        if generation == 0:
            return None
        try:
            db = sqlite3.connect(
                f"file:{self.path}?mode=rw", uri=True, isolation_level=None, check_same_thread=False
            )
            db.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        except sqlite3.OperationalError:
            return None
        with self._lock:
            self._all.append(db)
        local.db, local.generation = db, generation
        return db

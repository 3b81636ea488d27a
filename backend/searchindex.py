"""The search index: SQLite FTS5 in ``search.sqlite3`` beside the log, which stays the only truth.

One thread, started with :meth:`SearchIndex.start`, follows ``events.jsonl`` by ``pos`` after the
store has appended and fsynced: an acknowledgement never waits for the index. It indexes
``message`` records (the text and a file's name), replaces the text on ``edit``, removes the
message on ``delete`` and ignores every other kind. Each batch is one transaction that also
stores the last indexed ``pos``, so a restart resumes where the index stopped. Once it follows the
log, it lingers after an append for up to :data:`LINGER` so that one transaction takes every event
appended meanwhile; a search waiting for the index cuts the linger short. At start the file
is checked against the log: missing, unreadable, of another schema or another log, or ahead of
the log, it is removed and rebuilt from ``pos`` 1, in the background while the backend serves.

FTS5 rows are keyed by the message's ``pos`` (``rowid``), so results come newest first straight
from the index. The table keeps its own copy of each current text: the SQLite of this Python
(3.40) has no ``contentless_delete``, and a contentless table can only forget a row given its exact
old text, which ``--compact`` removes from the log (docs/storage.md).
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Protocol

import orjson

from .searchreaders import Readers

log = logging.getLogger(__name__)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # where ``backend`` is a package
INDEX_FILE = "search.sqlite3"
SCHEMA_VERSION = "1"
TOKENIZE = "unicode61 remove_diacritics 2"
# Events per transaction while catching up: big enough that a rebuild is not slowed by commits,
# small enough that searches during it see progress every fraction of a second.
BATCH = 2000
# Seconds the follower sleeps at most between looks at the log (an append wakes it).
IDLE_WAIT = 0.5
# Seconds the follower, woken by an append, waits for more before it indexes them in one
# transaction: most of indexing a message is the transaction's, not the message's (docs/storage.md,
# "Lag"). No search waits for it: one that needs the index at the log's end cuts it short.
LINGER = 0.2
# Further behind the log than this, the index is caught up by a process of its own
# (backend/searchbuild.py), so that a rebuild does not slow the backend's requests.
SEPARATE_BUILD_OVER = 20_000

SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE VIRTUAL TABLE messages USING fts5(
    text, name, room, columnsize=0, tokenize='{TOKENIZE}'
);
"""


class Log(Protocol):
    """What the index reads from the store (or, in a separate build, from the file: searchbuild.py)."""

    pos: int
    log_path: str

    def line(self, pos: int) -> bytes | None: ...
    def message_pos(self, room_id: str, seq: int) -> int | None: ...
    def wait_past(self, pos: int, timeout: float) -> None: ...


class SearchIndex:
    """The FTS5 index of a log, its follower thread, and the queries searches run on it."""

    def __init__(self, path: str, source: Log):
        self.path = path
        self._source = source
        self._changed = threading.Condition()
        self.indexed = 0  # the last pos whose batch is committed
        self.following = False  # reached the log's end since it opened: the lag is now bounded
        self.rebuilds = 0  # how many times the file was thrown away and built again (for tests)
        self.readers = Readers(path)  # the request threads' connections
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._awaited = 0  # the highest pos a search has waited for
        self._separate = True  # catch up in another process when far behind (until that fails)
        self.building_apart = False  # that process is running now

    # -- the follower ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start following the log (in the process that serves: a thread does not survive fork)."""
        if self._thread is None or not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="search-index", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Stop the follower; what it committed stays."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()  # a lingering follower stops at once
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.readers.close_all()

    def _run(self) -> None:
        while not self._stopping:
            try:
                db = self._open()
                try:
                    self._follow(db)
                finally:
                    db.close()
            except sqlite3.DatabaseError as error:  # a damaged file: start again from the log
                log.warning("%s: %s; rebuilding the search index from the log", self.path, error)
                self._remove()
            except Exception:
                log.exception("%s: the search index stopped following the log; retrying", self.path)
                self._source.wait_past(self._source.pos, IDLE_WAIT)

    def _open(self) -> sqlite3.Connection:
        """The writer's connection to a file that fits the log, rebuilt from scratch if it did not."""
        db = _connect(self.path)
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
            db.executescript(SCHEMA)
            db.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [
                    ("version", SCHEMA_VERSION),
                    ("origin", self._fingerprint(1)),
                    ("pos", "0"),
                    ("tail", self._fingerprint(0)),
                ],
            )
        meta = dict(db.execute("SELECT key, value FROM meta"))
        pos = int(meta.get("pos", -1))
        if (
            meta.get("version") != SCHEMA_VERSION
            or meta.get("origin") != self._fingerprint(1)
            or not 0 <= pos <= self._source.pos
            or meta.get("tail") != self._fingerprint(pos)
        ):
            log.warning("%s: made for another log or an older version; rebuilding it", self.path)
            db.close()
            self._remove()
            return self._open()
        with self._changed:
            self.indexed, self.following = pos, False
            self.readers.replaced()
            self._changed.notify_all()
        return db

    def catch_up(self) -> int:
        """Open the index, index the whole log in this thread, close it; the pos reached."""
        db = self._open()
        try:
            while self.indexed < self._source.pos:
                self._index(db, self.indexed + 1, min(self._source.pos, self.indexed + BATCH))
        finally:
            db.close()
        return self.indexed

    def _follow(self, db: sqlite3.Connection) -> None:
        while not self._stopping:
            end = self._source.pos
            if self._separate and end - self.indexed > SEPARATE_BUILD_OVER:
                self._build_apart(end)
                return  # to reopen the file the other process wrote
            if self.indexed >= end:
                if not self.following:
                    with self._changed:
                        self.following = True
                        self._changed.notify_all()
                self._source.wait_past(end, IDLE_WAIT)
                if self._source.pos > end:
                    self._linger()
                continue
            self._index(db, self.indexed + 1, min(end, self.indexed + BATCH))

    def _linger(self) -> None:
        """Let events gather for one transaction: until :data:`LINGER` passed, a search waits or we stop.

        What is appended meanwhile is in the log only: stopped (or killed) now, the index resumes
        from the ``pos`` it committed last.
        """
        with self._changed:
            self._changed.wait_for(lambda: self._stopping or self._awaited > self.indexed, LINGER)

    def _build_apart(self, upto: int) -> None:
        """Run backend/searchbuild.py up to event ``upto`` and wait for it (stopped with us)."""
        command = [sys.executable, "-m", "backend.searchbuild", self.path, self._source.log_path, str(upto)]
        started = time.monotonic()
        builder = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL)
        with self._changed:
            self.building_apart = True
            self._changed.notify_all()  # searches waiting for the index answer now, as partial
        try:
            while builder.poll() is None:
                if self._stopping:
                    builder.kill()
                time.sleep(0.1)
        finally:
            with self._changed:
                self.building_apart = False
        if builder.returncode != 0 and not self._stopping:
            log.warning(
                "%s: the separate build failed (%s); indexing here instead", self.path, builder.returncode
            )
            self._separate = False
        else:
            log.info(
                "%s: indexed up to %d in %.1f s by a separate process",
                self.path,
                upto,
                time.monotonic() - started,
            )

    def _index(self, db: sqlite3.Connection, first: int, last: int) -> None:
        db.execute("BEGIN")
        for pos in range(first, last + 1):
            line = self._source.line(pos)
            if line is not None:
                try:
                    self._apply(db, orjson.loads(line))
                except (KeyError, TypeError, ValueError) as error:
                    log.warning("%s: event %d not indexed (%s)", self.path, pos, error)
        db.execute("UPDATE meta SET value = ? WHERE key = 'pos'", (str(last),))
        db.execute("UPDATE meta SET value = ? WHERE key = 'tail'", (self._fingerprint(last),))
        db.execute("COMMIT")
        with self._changed:
            self.indexed = last
            self._changed.notify_all()

    def _apply(self, db: sqlite3.Connection, record: dict) -> None:
        kind = record.get("type")
        if kind == "message":
            message = record["message"]
            if not message.get("deleted"):
                db.execute(
                    "INSERT OR REPLACE INTO messages (rowid, text, name, room) VALUES (?, ?, ?, ?)",
                    (record["pos"], _text(message.get("text", "")), _file_name(message), message["room"]),
                )
        elif kind in ("edit", "delete"):
            pos = self._source.message_pos(record["room"], record["seq"])
            if pos is None:
                return
            if kind == "edit":  # a deleted message has no row left, and stays without one
                db.execute("UPDATE messages SET text = ? WHERE rowid = ?", (_text(record["text"]), pos))
            else:
                db.execute("DELETE FROM messages WHERE rowid = ?", (pos,))

    def _fingerprint(self, pos: int) -> str:
        """A digest of event ``pos``'s line: the log the index was made from, and where it stopped."""
        line = self._source.line(pos) if pos > 0 else b""
        return hashlib.sha256(line or b"").hexdigest()[:32]

    def _remove(self) -> None:
        with self._changed:
            self.indexed, self.following = 0, False
            self.rebuilds += 1
            self.readers.replaced()
        for suffix in ("", "-wal", "-shm", "-journal"):
            try:
                os.remove(self.path + suffix)
            except FileNotFoundError:
                pass

    # -- searching ------------------------------------------------------------------------------

    def wait_for(self, pos: int, timeout: float) -> bool:
        """Wait until everything up to ``pos`` is indexed; False if it is not.

        While another process rebuilds the index (far behind the log) a search does not wait: it
        says it is partial. Otherwise the index is at most a linger behind, which the wait cuts
        short, and waiting for it lets the sender of a message find it.
        """
        with self._changed:
            if pos > self._awaited:
                self._awaited = pos
                self._changed.notify_all()  # a lingering follower indexes now
            self._changed.wait_for(lambda: self.indexed >= pos or self.building_apart, timeout)
            return self.indexed >= pos

    def search(
        self, expression: str, before: int | None, limit: int, keep: Callable[[int], bool] | None = None
    ) -> list[int]:
        """The ``pos`` of up to ``limit`` matches below ``before``, newest first (see :class:`Readers`)."""
        return self.readers.search(expression, before, limit, keep)


def _connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        # Readers never block the follower nor it them; a commit needs no fsync (the log is the
        # truth, and an index torn by a power cut is rebuilt from it).
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("text is not a string")
    return value


def _file_name(message: dict) -> str:
    file = message.get("file")
    name = file.get("name") if isinstance(file, dict) else None
    return name if isinstance(name, str) else ""

"""``backend.py --compact``: rewrite ``events.jsonl`` without deleted texts and replaced edit texts.

Until compaction the log keeps everything it was ever sent (it is append-only): the first text of
an edited message, every edit's text, and a deleted message's text, file and reactions. Compaction
empties exactly those, line by line, and leaves every line in its place with its ``pos`` (and every
message its ``seq``), so the state served afterwards is the same as before:

- a deleted message's ``message`` line: ``text`` becomes ``""``, ``file`` goes, ``"redacted": true``;
  its ``edit`` lines lose ``text`` and its ``react`` lines lose ``emoji`` and ``added`` (both get
  ``"redacted": true``); the ``delete`` line stays;
- an edited message's ``message`` line and every ``edit`` line but the latest: the same for
  ``text``. The latest edit holds the current text; reactions of a live message stay.

A redacted line changes nothing when replayed (:meth:`backend.changes.Changes.prepare`).

Crash safety: the new log is written beside the old one (``events.jsonl.compacting``), fsynced,
renamed over ``events.jsonl`` (atomic), and the directory fsynced. Killed before the rename, the
old log is whole and the half-written file is ignored by the backend and replaced by the next
compaction; killed after it, the new log is whole. It runs holding the data directory's lock (so
never beside a live backend) and opens the directory as a backend would, repairing a torn tail.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import orjson

from .datadir import DataDirError
from .store import Store

TEMP_SUFFIX = ".compacting"
CHUNK = 1 << 20


@dataclass
class Summary:
    """What a compaction did."""

    path: str
    deleted: int = 0  # deleted messages whose lines were emptied
    edits: int = 0  # replaced texts emptied (first texts and superseded edits of live messages)
    lines: int = 0  # lines rewritten
    before: int = 0  # bytes
    after: int = 0

    def __str__(self) -> str:
        return (
            f"compacted {self.path}: {self.lines} lines emptied ({self.deleted} deleted messages, "
            f"{self.edits} replaced texts of edited ones); {self.before:,} -> {self.after:,} bytes"
        )


def _reached(step: str) -> None:
    """Called at each step of :func:`compact`; the crash tests stop the process here. A no-op."""


def compact(data_dir: str) -> Summary:
    """Compact the log of ``data_dir``; raises DataDirError when a live backend holds it."""
    if not os.path.isfile(os.path.join(data_dir, "events.jsonl")):
        raise DataDirError(f"no chat data in {data_dir!r} (no events.jsonl there)")
    store = Store(data_dir)  # takes the directory's lock, replays and repairs the log
    try:
        path = store._log.path
        summary = Summary(path, before=os.path.getsize(path))
        rewrites = _rewrites(store, summary)
        temp = path + TEMP_SUFFIX
        _write(store, temp, rewrites)
        _reached("written")
        os.replace(temp, path)
        _reached("renamed")
        _fsync_dir(os.path.dirname(os.path.abspath(path)))
        _reached("synced")
        summary.lines, summary.after = len(rewrites), os.path.getsize(path)
        _remove_unreferenced_file_bodies(data_dir, path)
        return summary
    finally:
        store.close()


def _rewrites(store: Store, summary: Summary) -> dict[int, bytes]:
    """pos -> the line that replaces it, for every line holding text no longer served."""
    lines_of: dict[tuple[int, int], list[int]] = {}
    for pos, key in store._changes.rebuilt.items():
        lines_of.setdefault(key, []).append(pos)
    rewrites: dict[int, bytes] = {}
    for key, change in store._changes.items():
        if not change.deleted and change.text is None:
            continue  # only reactions: nothing is hidden
        records = {pos: store._log.event(pos) for pos in lines_of[key] if pos != change.pos}
        edits = [pos for pos in sorted(records) if records[pos]["type"] == "edit"]
        emptied = set(edits if change.deleted else edits[:-1])
        if change.deleted:
            emptied.update(pos for pos, record in records.items() if record["type"] == "react")
        made = 0
        for pos in sorted(emptied | {change.pos}):
            redacted = _redact(records.get(pos) or store._log.event(pos), change.deleted)
            if redacted is not None:
                rewrites[pos] = orjson.dumps(redacted)
                made += 1
        if made and change.deleted:
            summary.deleted += 1
        elif made:
            summary.edits += made
    return rewrites


def _redact(record: dict, deleted: bool) -> dict | None:
    """``record`` with its content emptied, or None if it already was (a deleted one's file too)."""
    if record.get("redacted"):
        return None
    if record["type"] == "message":
        message = {k: v for k, v in record["message"].items() if k != "file" or not deleted}
        message["text"] = ""
        return {"type": "message", "pos": record["pos"], "message": message, "redacted": True}
    gone = {"edit": ("text",), "react": ("emoji", "added")}[record["type"]]
    return dict({k: v for k, v in record.items() if k not in gone}, redacted=True)


def _write(store: Store, temp: str, rewrites: dict[int, bytes]) -> None:
    """Copy the log to ``temp`` with the lines of ``rewrites`` replaced, then fsync it."""
    log = store._log
    source = os.open(log.path, os.O_RDONLY)
    target = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        done = 0  # bytes of the old log accounted for
        for pos in sorted(rewrites):
            offset, length = log.place(pos)
            _copy(source, target, done, offset)
            os.write(target, rewrites[pos] + b"\n")
            done = offset + length
            _reached("writing")
        _copy(source, target, done, os.fstat(source).st_size)
        os.fsync(target)
    finally:
        os.close(target)
        os.close(source)


def _copy(source: int, target: int, start: int, end: int) -> None:
    while start < end:
        chunk = os.pread(source, min(CHUNK, end - start), start)
        if not chunk:
            raise OSError(f"the log ended at byte {start}, before {end}")
        view = memoryview(chunk)
        while view:
            view = view[os.write(target, view) :]
        start += len(chunk)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_unreferenced_file_bodies(data_dir: str, log_path: str) -> None:
    """The one place where compaction removes the bodies of files no live message refers to.

    Runs only once the new log is durable, so a crash before it leaves bodies that the next
    compaction removes, never a message whose file is gone. The removal itself, crash-safe step by
    step, is :func:`backend.files.remove_unreferenced`; what it keeps is every body a message of
    the compacted log still carries.
    """
    from .files import remove_unreferenced

    remove_unreferenced(data_dir, _referenced_digests(log_path))


def _referenced_digests(log_path: str) -> set[str]:
    """The SHA-256 of every file body that messages in the (compacted) log still carry."""
    digests = set()
    with open(log_path, "rb") as lines:
        for line in lines:
            if b'"file":{' in line:
                file = (orjson.loads(line).get("message") or {}).get("file")
                if isinstance(file, dict) and isinstance(file.get("sha256"), str):
                    digests.add(file["sha256"])
    return digests


def referenced_file_ids(log_path: str) -> set[str]:
    """The ids of the files that messages in the (compacted) log still carry."""
    ids = set()
    with open(log_path, "rb") as lines:
        for line in lines:
            if b'"file":{' in line:
                message = orjson.loads(line).get("message") or {}
                file = message.get("file")
                if isinstance(file, dict) and isinstance(file.get("id"), str):
                    ids.add(file["id"])
    return ids

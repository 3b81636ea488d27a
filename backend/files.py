"""File bodies on disk, content-addressed: ``files/ab/cd/<sha256>`` under the data directory.

No Flask here. An upload is written to ``files/tmp/`` while it arrives (hashed and counted as it
goes), then fsynced, renamed to its digest's path and the directory fsynced: a crash leaves at
most a temporary file (removed at the next start), never a half body under a digest's name, and
the message that points at a body is appended only after :meth:`Bodies.commit` returned.
Identical uploads share one body: a digest's path that exists already holds those very bytes.

A thumbnail is kept beside its body as ``<sha256>.thumb`` (see :mod:`backend.images`), written
the same way. :func:`remove_unreferenced` is what ``--compact`` calls to delete the bodies no
message refers to any more.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path

from .jsonl import StorageError
from .refusals import TooLarge

log = logging.getLogger(__name__)

CHUNK = 64 * 1024  # bytes read or written at a time: no whole file is ever held in memory
THUMB_SUFFIX = ".thumb"
_DIGEST = re.compile(r"[0-9a-f]{64}")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Incoming:
    """A file being received: a temporary file that hashes and counts what is written to it.

    Writing past ``limit`` bytes raises :class:`TooLarge` at once and removes the temporary file,
    so an oversize upload is refused as soon as it crosses the limit and nothing of it stays.
    """

    def __init__(self, tmp_dir: Path, limit: int):
        self.path = tmp_dir / ("up-" + secrets.token_hex(12))
        self.limit = limit
        self.size = 0
        self._hash = hashlib.sha256()
        self._file = open(self.path, "xb", buffering=0)  # noqa: SIM115 (closed in commit/discard)

    def write(self, data: bytes) -> int:
        """Append ``data``; TooLarge past the limit, StorageError if the disk refuses it."""
        self.size += len(data)
        if self.size > self.limit:
            self.discard()
            raise TooLarge(f"The file is larger than {self.limit // (1024 * 1024)} MiB.")
        self._hash.update(data)
        try:
            self._file.write(data)
        except OSError as error:
            self.discard()
            raise StorageError(f"{self.path}: {error}") from error
        return len(data)

    def seek(self, *_args) -> int:
        """Werkzeug's form parser rewinds a finished file part; we keep writing only."""
        return 0

    @property
    def digest(self) -> str:
        """The SHA-256 of what was written so far, in hex."""
        return self._hash.hexdigest()

    def discard(self) -> None:
        """Close and remove the temporary file (again: nothing happens)."""
        if not self._file.closed:
            self._file.close()
        self.path.unlink(missing_ok=True)


class Bodies:
    """The file bodies under ``DATA_DIR/files``: receive, commit, find."""

    def __init__(self, data_dir: str | os.PathLike):
        self.root = Path(data_dir) / "files"
        self.tmp = self.root / "tmp"  # made at the first upload: a chat without files has no files/
        if self.tmp.is_dir():
            for leftover in self.tmp.iterdir():  # a crash during an upload: never committed
                log.warning("removing an unfinished upload %s", leftover)
                leftover.unlink(missing_ok=True)

    def incoming(self, limit: int) -> Incoming:
        """A new temporary file for an upload of at most ``limit`` bytes; StorageError if none can be made."""
        try:
            self.tmp.mkdir(parents=True, exist_ok=True)
            return Incoming(self.tmp, limit)
        except OSError as error:
            raise StorageError(f"{self.tmp}: {error}") from error

    def path(self, digest: str) -> Path:
        """Where the body of ``digest`` lives (whether or not it exists)."""
        if not _DIGEST.fullmatch(digest):
            raise ValueError(f"not a SHA-256 digest: {digest!r}")
        return self.root / digest[:2] / digest[2:4] / digest

    def thumb_path(self, digest: str) -> Path:
        """Where the thumbnail of ``digest`` lives."""
        return self.path(digest).with_name(digest + THUMB_SUFFIX)

    def commit(self, incoming: Incoming) -> str:
        """Make the received file durable under its digest; its digest. StorageError on failure."""
        digest = incoming.digest
        target = self.path(digest)
        try:
            os.fsync(incoming._file.fileno())
            incoming._file.close()
            if target.exists():  # an identical upload: share its body
                incoming.discard()
                return digest
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(incoming.path, target)
            _fsync_dir(target.parent)
            _fsync_dir(target.parent.parent)
            _fsync_dir(self.root)
        except OSError as error:
            incoming.discard()
            raise StorageError(f"{target}: {error}") from error
        return digest

    def write_beside(self, path: Path, data: bytes) -> None:
        """Write a small derived file (a thumbnail) atomically: temporary name, fsync, rename."""
        tmp = self.tmp / ("th-" + secrets.token_hex(12))
        try:
            self.tmp.mkdir(parents=True, exist_ok=True)
            with open(tmp, "xb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.rename(tmp, path)
            _fsync_dir(path.parent)
        except OSError as error:
            tmp.unlink(missing_ok=True)
            raise StorageError(f"{path}: {error}") from error

    def digests(self) -> Iterable[str]:
        """Every body on disk, by digest."""
        for path in self.root.glob("??/??/*"):
            if _DIGEST.fullmatch(path.name):
                yield path.name


def remove_unreferenced(data_dir: str | os.PathLike, keep: Iterable[str | dict]) -> list[str]:
    """Delete every body (and its thumbnail) whose digest is not in ``keep``; the digests removed.

    ``keep`` holds the ``sha256`` of every ``file`` still served (messages not deleted), or those
    ``file`` objects themselves (``{"id", ..., "sha256"}``): either may be given. Call it only
    once the log that no longer refers to the others is durable (``--compact`` renames its rewritten
    log first): then each step is safe to interrupt. A thumbnail goes before its body, so a crash
    between the two leaves a body with no thumbnail (made again when asked for), never a thumbnail
    of nothing; the next run finishes the job. Leftover temporary files go too.
    """
    if not (Path(data_dir) / "files").is_dir():
        return []  # no file was ever uploaded here
    bodies = Bodies(data_dir)  # its constructor also clears files/tmp
    keep = {item["sha256"] if isinstance(item, dict) else item for item in keep}
    removed = []
    for digest in list(bodies.digests()):
        if digest in keep:
            continue
        bodies.thumb_path(digest).unlink(missing_ok=True)
        bodies.path(digest).unlink(missing_ok=True)
        removed.append(digest)
    for path in bodies.root.glob("??/??/*" + THUMB_SUFFIX):  # thumbnails left by a crash
        if path.name[: -len(THUMB_SUFFIX)] not in keep:
            path.unlink(missing_ok=True)
    for directory in {bodies.path(d).parent for d in removed}:
        _fsync_dir(directory)
    return removed

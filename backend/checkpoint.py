"""A checkpoint of the store's in-memory indexes, so that a start replays only the log after it.

Replaying ``events.jsonl`` from its first line rebuilds every index the store reads from (the
position index, the rooms with their message places and client ids, the overlay of changed
messages, the file index): about 4 s for a million messages. ``checkpoint.bin`` holds those
indexes as of one position of the log, so a start loads them and replays only the lines after
that position, as Redis loads its RDB file before the AOF written since.

Nothing is ever trusted that could be torn or stale:

- **Torn or corrupted.** The file is written under a temporary name, fsynced, then renamed over
  the old one, and the directory fsynced: a crash leaves the old checkpoint or the new one whole.
  Its header holds the BLAKE2b digest and length of the pickled indexes; a mismatch (a bad disk, a file
  cut short) means the checkpoint is ignored and the whole log replayed.
- **Stale.** The header holds the length of the log the indexes were made from and the digest
  of those bytes. The log only ever grows by appends, so that prefix must be the start of the
  log now, byte for byte; a log that was compacted, restored from an older backup, cut by crash
  recovery below the checkpoint, or replaced is detected and the whole log replayed.
- **Another version.** The header names the format version; any other is ignored.

A checkpoint is written by a child process forked for the purpose (the pages of the fork are the
indexes as they were at the fork, copy-on-write), so the server goes on serving while it is
written: after a start that replayed at least :data:`AFTER_REPLAYED` lines, and after every
:data:`EVERY` appended events. The file is the store's own, in the data directory, with mode
0600 like the log: it is unpickled, so it is exactly as trusted as the rest of the directory.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import pickle
from typing import Any

import orjson

log = logging.getLogger(__name__)

FILE = "checkpoint.bin"
VERSION = 1
MAGIC = b"chat checkpoint\n"
# A start that replayed this many lines or more writes a checkpoint, so the next one need not.
AFTER_REPLAYED = 10_000
# Appended events between two checkpoints while serving: a start after a crash replays at most
# about this many lines beyond the last checkpoint (a few hundred milliseconds).
EVERY = 200_000
_READ = 1 << 20


def _hash(data: bytes = b"") -> Any:
    """BLAKE2b, 32 bytes: CPython's own code, not OpenSSL's. The writer is a fork of a server with
    other threads, and one of them may have held an OpenSSL lock (hashing an upload) at the fork;
    nothing a child of it runs may need such a lock."""
    return hashlib.blake2b(data, digest_size=32)


def path_in(data_dir: str) -> str:
    """Where a data directory keeps its checkpoint."""
    return os.path.join(data_dir, FILE)


def prefix_digest(log_path: str, length: int) -> str | None:
    """The digest of the first ``length`` bytes of the log, or None if it is shorter."""
    digest = _hash()
    left = length
    with open(log_path, "rb", buffering=0) as data:
        while left > 0:
            piece = data.read(min(_READ, left))
            if not piece:
                return None
            digest.update(piece)
            left -= len(piece)
    return digest.hexdigest()


def write(data_dir: str, log_path: str, log_bytes: int, pos: int, state: dict[str, Any]) -> None:
    """Write the checkpoint of ``state`` (the indexes after the first ``log_bytes`` bytes of the
    log, event ``pos``) atomically; raises OSError if it cannot be made durable."""
    payload = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    header = {
        "version": VERSION,
        "pos": pos,
        "log_bytes": log_bytes,
        "log_blake2b": prefix_digest(log_path, log_bytes),
        "payload_bytes": len(payload),
        "payload_blake2b": _hash(payload).hexdigest(),
    }
    target = path_in(data_dir)
    tmp = f"{target}.tmp-{os.getpid()}"
    directory = os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(MAGIC + orjson.dumps(header) + b"\n")
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        # Two writers may overlap (one forked at start, one after appends): the newer one wins,
        # whichever finishes first, so a checkpoint is never replaced by an older one.
        fcntl.flock(directory, fcntl.LOCK_EX)
        if pos <= (written_pos(data_dir) or 0):
            os.unlink(tmp)
            return
        os.rename(tmp, target)
        os.fsync(directory)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    finally:
        os.close(directory)  # and with it the lock


def written_pos(data_dir: str) -> int | None:
    """The pos the data directory's checkpoint says it was made at (its header only), if any."""
    try:
        with open(path_in(data_dir), "rb") as data:
            magic, header = data.read(len(MAGIC)), data.readline(4096)
        pos = orjson.loads(header).get("pos") if magic == MAGIC else None
    except (OSError, orjson.JSONDecodeError, AttributeError):
        return None
    return pos if isinstance(pos, int) else None


def read(data_dir: str, log_path: str) -> tuple[dict[str, Any], int, int] | None:
    """``(state, pos, log_bytes)`` of the data directory's checkpoint if it is whole and of the log
    as it is now; None (with a warning saying why, unless there is none) otherwise."""
    path = path_in(data_dir)
    try:
        with open(path, "rb") as data:
            magic = data.read(len(MAGIC))
            header_line = data.readline(4096)
            payload = data.read()
    except FileNotFoundError:
        return None
    except OSError as error:
        log.warning("%s: cannot read the checkpoint (%s); replaying the whole log", path, error)
        return None
    try:
        header = orjson.loads(header_line) if magic == MAGIC else None
    except orjson.JSONDecodeError:
        header = None
    if not isinstance(header, dict) or header.get("version") != VERSION:
        log.warning("%s: not a checkpoint of this version; replaying the whole log", path)
        return None
    whole = len(payload) == header.get("payload_bytes")
    if not whole or _hash(payload).hexdigest() != header.get("payload_blake2b"):
        log.warning("%s: the checkpoint is torn or corrupted; replaying the whole log", path)
        return None
    log_bytes = header.get("log_bytes")
    if not isinstance(log_bytes, int) or prefix_digest(log_path, log_bytes) != header.get("log_blake2b"):
        log.warning("%s: the checkpoint is not of this log (stale); replaying the whole log", path)
        return None
    try:
        state = pickle.loads(payload)
    except Exception as error:  # a format the code no longer matches: the log is the truth
        log.warning("%s: cannot load the checkpoint (%s); replaying the whole log", path, error)
        return None
    return state, header["pos"], log_bytes


def remove_leftovers(data_dir: str) -> None:
    """Delete the temporary files of writers that never finished (killed, or the machine stopped).

    A writer forked by the previous run may still be at work: it then fails at its rename, and the
    checkpoint in place (if any) stays, which is always safe.
    """
    prefix = FILE + ".tmp-"
    for name in os.listdir(data_dir):
        if name.startswith(prefix):
            log.warning("%s: removing an unfinished checkpoint", os.path.join(data_dir, name))
            try:
                os.unlink(os.path.join(data_dir, name))
            except FileNotFoundError:
                pass


def write_in_background(
    data_dir: str, log_path: str, log_bytes: int, pos: int, state: dict[str, Any]
) -> None:
    """Write the checkpoint from a forked process and return at once.

    Call with the store's lock held, so the fork's copy of ``state`` is consistent; the fork is
    the only time spent here (its pages are shared copy-on-write). The child forks again and
    exits, so the writer is nobody's child to wait for.
    """
    child = os.fork()
    if child:
        os.waitpid(child, 0)  # the first child exits at once
        return
    status = 0
    try:
        if os.fork() == 0:  # the writer, adopted by init once its parent is gone
            # Nothing of the server's stays open in it: not the data directory's lock (a restart
            # must not find it held), not a listening socket (a restart must be able to bind).
            os.closerange(3, os.sysconf("SC_OPEN_MAX"))
            os.nice(10)
            write(data_dir, log_path, log_bytes, pos, state)
    except BaseException as error:  # nobody to raise to: say it on stderr
        status = 1
        try:
            os.write(2, f"checkpoint not written: {error}\n".encode())
        except OSError:
            pass
    finally:
        os._exit(status)

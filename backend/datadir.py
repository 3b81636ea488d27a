"""One backend per data directory: an flock on ``DATA_DIR/.lock``, freed by the kernel on exit."""

from __future__ import annotations

import fcntl
import os


class DataDirError(Exception):
    """The data directory cannot be used; ``str()`` is a one-line reason."""


def lock_data_dir(data_dir: str) -> int:
    """Hold ``data_dir/.lock`` with flock: the kernel frees it when the process dies."""
    try:
        os.makedirs(data_dir, exist_ok=True)
        fd = os.open(os.path.join(data_dir, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise DataDirError(f"cannot use data directory {data_dir!r}: {error.strerror or error}") from error
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        reason = f"data directory {data_dir!r} is in use by another backend (pid {holder})"
        raise DataDirError(reason) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    if not os.access(data_dir, os.W_OK):
        os.close(fd)
        raise DataDirError(f"cannot write to data directory {data_dir!r}")
    return fd

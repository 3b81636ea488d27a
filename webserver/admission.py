"""Who may open one more WebSocket: a cap per user, and headroom below the open-file limit.

Every WebSocket is a file descriptor held for as long as it is open. One account opening
thousands would take the process to its open-file limit (``EMFILE``), and then nothing could be
accepted any more, ``/healthz`` and everyone's sign-in included. :class:`Admission` is asked at
the handshake, before the socket is accepted: a user already holding ``per_user`` WebSockets on
this front server is answered ``429``, and when the process is within :func:`reserve` files of
its limit every new handshake is answered ``503``, leaving the rest for HTTP. A handshake counts
from the moment it is admitted until its connection ends (or its request, when it fails), so
sockets still opening count too. No Flask import.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from collections.abc import Callable

from common.errors import ApiError

# Seconds between counts of the process's open files (a directory listing of /proc/self/fd, a few
# milliseconds with 10,000 open); handshakes admitted meanwhile are added to the last count.
RECOUNT_EVERY = 1.0

# Open files kept free for everything but new WebSockets: HTTP requests, the backend's pool, files.
RESERVE_MIN = 100


def reserve(limit: int) -> int:
    """The files kept free below ``limit``: a twentieth of it, at least :data:`RESERVE_MIN`."""
    return max(RESERVE_MIN, limit // 20)


def open_files() -> int | None:
    """How many files this process has open, or None where the system does not say (no /proc)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


class Admission:
    """WebSockets admitted per user on this front server, and the open-file headroom."""

    def __init__(self, per_user: int, *, clock: Callable[[], float] = time.monotonic):
        self.per_user = per_user
        self._clock = clock
        self._lock = threading.Lock()
        self._admitted: dict[str, int] = {}
        self._files: int | None = None  # the last count of open files
        self._counted_at = float("-inf")
        self._since = 0  # handshakes admitted since that count

    def admit(self, user: str) -> None:
        """Count one more WebSocket of ``user``, or refuse it.

        Raises :class:`~common.errors.ApiError`: ``503 server_busy`` near the open-file limit,
        ``429 rate_limited`` when ``user`` already holds ``per_user``. Each admission is ended
        by exactly one :meth:`release`.
        """
        with self._lock:
            if self._near_file_limit():
                raise ApiError(
                    503, "server_busy", "This server holds all the connections it can; try again soon."
                )
            count = self._admitted.get(user, 0)
            if self.per_user and count >= self.per_user:
                raise ApiError(
                    429,
                    "rate_limited",
                    f"At most {self.per_user} open WebSockets per user; close one first.",
                    retry_after=1,
                )
            self._admitted[user] = count + 1
            self._since += 1

    def release(self, user: str) -> None:
        """End one admission of ``user`` (its WebSocket closed, or its handshake failed)."""
        with self._lock:
            left = self._admitted.get(user, 0) - 1
            if left > 0:
                self._admitted[user] = left
            else:
                self._admitted.pop(user, None)

    def _near_file_limit(self) -> bool:
        now = self._clock()
        if now - self._counted_at >= RECOUNT_EVERY:
            self._files, self._counted_at, self._since = open_files(), now, 0
        if self._files is None:
            return False
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if limit == resource.RLIM_INFINITY:
            return False
        return self._files + self._since >= limit - reserve(limit)

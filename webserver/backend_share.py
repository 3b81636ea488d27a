"""Each user's share of the backend's request threads: relayed calls in flight, per user and in all.

The backend serves a fixed number of request threads (``backend.py --threads``, 32 by default), and
every call this process relays holds one of them until it is answered. Without a bound, one
account sending many slow requests at once (catch-ups from far back, sign-ins, searches) could
hold them all and make everyone else's requests wait. :class:`BackendShare` bounds the calls in
flight from this process: at most ``per_user`` for one signed-in user (more are refused at once
with ``429``)
and at most ``total`` in all (more wait here, in a greenlet that costs nothing, for up to
:data:`QUEUE_WAIT` seconds, then ``503``). Keep ``total`` summed over every front server below the
backend's threads, so that the hub's own feed and the quick calls always find one free.

Long-polls never count: they wait in the hub, not on the backend (:mod:`webserver.relay`). File
transfers have their own bound (:mod:`webserver.files`). No Flask import.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from common.errors import ApiError

# Seconds a call waits for a free place before the caller gets a 503.
QUEUE_WAIT = 10.0


class BackendShare:
    """Calls in flight to the backend: ``per_user`` for one user, ``total`` in all (0 turns one off)."""

    def __init__(self, per_user: int, total: int, *, queue_wait: float = QUEUE_WAIT):
        self.per_user = per_user
        self.queue_wait = queue_wait
        self._total = threading.BoundedSemaphore(total) if total else None
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}

    @contextmanager
    def call(self, user: str | None) -> Iterator[None]:
        """Hold one place for ``user`` while the block runs; None (not signed in): the total only.

        Raises :class:`~common.errors.ApiError`: ``429 rate_limited`` when ``user`` already has
        ``per_user`` calls in flight, ``503 backend_unavailable`` when no place frees up in time.
        Calls without a session (sign-ins) are not counted per client address: behind a proxy
        every client has the proxy's, and the backend limits sign-ins by address itself.
        """
        if user is None:
            with self._total_place():
                yield
            return
        with self._lock:
            count = self._in_flight.get(user, 0)
            if self.per_user and count >= self.per_user:
                raise ApiError(
                    429,
                    "rate_limited",
                    "Too many requests at once from this account; wait for one to finish.",
                    retry_after=1,
                )
            self._in_flight[user] = count + 1
        try:
            with self._total_place():
                yield
        finally:
            with self._lock:
                left = self._in_flight[user] - 1
                if left:
                    self._in_flight[user] = left
                else:
                    del self._in_flight[user]

    @contextmanager
    def _total_place(self) -> Iterator[None]:
        """One of the ``total`` places, waited for up to ``queue_wait`` seconds (503 past it)."""
        if self._total is None:
            yield
            return
        if not self._total.acquire(timeout=self.queue_wait):
            raise ApiError(503, "backend_unavailable", "The chat is busy right now; try again in a moment.")
        try:
            yield
        finally:
            self._total.release()

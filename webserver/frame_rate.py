"""Frames from one WebSocket, counted per second: a flood gets an ``error`` frame, then a close.

Each frame costs the front server a parse and often a call to the backend, so one client sending
as fast as it can would keep a core busy (1.4 million typing notices over 4 sockets in 15 s did).
:class:`FrameMeter` counts a connection's frames in windows of one second. A burst over the rate
within a second or two is served (an app sending the messages it queued while offline); from the
:data:`WARN_AFTER`-th second in a row over the rate, the frames past the rate are dropped unread
and the client gets one ``error`` frame; from the :data:`CLOSE_AFTER`-th, the connection is closed
with 1008. Typing notices count like any frame; the hub also coalesces them per user before they
reach anyone (:class:`webserver.presence.RateGate`). No Flask import.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum

# Seconds in a row over the rate before the frames past it are dropped (with one error frame),
# and before the connection is closed.
WARN_AFTER = 3
CLOSE_AFTER = 5


class Verdict(Enum):
    """What to do with one frame."""

    SERVE = "serve"
    WARN = "warn"  # drop it and send the error frame (once per flood)
    DROP = "drop"
    CLOSE = "close"


class FrameMeter:
    """One connection's frames per second against ``rate``."""

    __slots__ = ("rate", "_clock", "_window", "_count", "_over", "_warned")

    def __init__(self, rate: int, *, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self._clock = clock
        self._window = clock()  # when the current one-second window began
        self._count = 0  # frames in it
        self._over = 0  # whole seconds in a row, before it, with more than ``rate`` frames
        self._warned = False

    def count(self) -> Verdict:
        """Count one frame that just arrived and say what to do with it."""
        now = self._clock()
        elapsed = now - self._window
        if elapsed >= 1:
            # The window that ended was over the rate, and the one after it began at once: one
            # more second in a row. A quiet second (or more) between them starts again.
            self._over = self._over + 1 if self._count > self.rate and elapsed < 2 else 0
            self._window = self._window + 1 if elapsed < 2 else now
            self._count = 0
            if not self._over:
                self._warned = False
        self._count += 1
        if self._count <= self.rate:
            return Verdict.SERVE
        seconds = self._over + 1  # this second is over the rate too
        if seconds >= CLOSE_AFTER:
            return Verdict.CLOSE
        if seconds >= WARN_AFTER:
            if self._warned:
                return Verdict.DROP
            self._warned = True
            return Verdict.WARN
        return Verdict.SERVE

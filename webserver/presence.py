"""Who is online, and how often someone may say they are typing; no Flask import, no I/O.

:class:`Presence` turns raw signals (a WebSocket opened or closed, a poll of ``/api/events``) into
announced transitions: a user is online while they hold at least one open WebSocket or polled
within :data:`POLL_WINDOW` seconds; going offline waits :data:`OFFLINE_GRACE` seconds so that a
page reload (close, then open again a moment later) is no transition at all. Going online is
immediate. The hub calls every method under its own lock and broadcasts what they return.

:class:`RateGate` is the typing indicator's limit: typing frames are pure decoration, so extra
ones are dropped silently rather than answered with an error.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

# Seconds. A client that falls back to polling asks /api/events at least every 30 s (the longest
# `wait`), so 60 s covers one slow or failed poll without showing the user as gone.
POLL_WINDOW = 60.0

# Seconds. A page reload closes the WebSocket and opens a new one within a second or two on a
# healthy machine; 5 s covers a slow reload without keeping a user who left online for long.
OFFLINE_GRACE = 5.0

# Typing frames a user may send per TYPING_PERIOD seconds. Browsers send one per keystroke burst;
# three a second is more than any indicator needs and bounds the fan-out a fast typist causes.
TYPING_BURST = 3
TYPING_PERIOD = 1.0

Transition = tuple[str, bool]


class Presence:
    """Online state per user with a grace period before going offline.

    Methods return the list of ``(username, online)`` transitions they caused; the caller
    announces them. ``clock`` returns seconds (monotonic) and is injectable for tests.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        *,
        poll_window: float = POLL_WINDOW,
        grace: float = OFFLINE_GRACE,
    ):
        self._clock = clock
        self._poll_window = poll_window
        self._grace = grace
        self._sockets: dict[str, int] = {}
        self._polled: dict[str, float] = {}
        self._closed: dict[str, float] = {}  # when the user's last socket closed
        self._online: set[str] = set()  # as announced

    def connected(self, user: str) -> list[Transition]:
        """A WebSocket of ``user`` opened."""
        self._sockets[user] = self._sockets.get(user, 0) + 1
        return self._settle(user, self._clock())

    def disconnected(self, user: str) -> list[Transition]:
        """A WebSocket of ``user`` closed."""
        left = self._sockets.get(user, 0) - 1
        now = self._clock()
        if left > 0:
            self._sockets[user] = left
        else:
            self._sockets.pop(user, None)
            self._closed[user] = now
        return self._settle(user, now)

    def polled(self, user: str) -> list[Transition]:
        """``user`` polled ``/api/events``."""
        now = self._clock()
        self._polled[user] = now
        return self._settle(user, now)

    def sweep(self) -> list[Transition]:
        """Settle every user whose state may have run out; call about once a second."""
        now = self._clock()
        changes: list[Transition] = []
        for user in list(self._online | self._polled.keys() | self._closed.keys()):
            changes += self._settle(user, now)
        return changes

    def online_users(self) -> set[str]:
        """The users announced as online (a user within the grace period still counts)."""
        return set(self._online)

    def _settle(self, user: str, now: float) -> list[Transition]:
        polled = self._polled.get(user)
        poll_end = None if polled is None else polled + self._poll_window
        if self._sockets.get(user) or (poll_end is not None and now < poll_end):
            self._closed.pop(user, None)
            if user in self._online:
                return []
            self._online.add(user)
            return [(user, True)]
        # Presence ended at the later of the last socket's close and the poll window's end.
        ends = [t for t in (self._closed.get(user), poll_end) if t is not None]
        if user in self._online and ends and now - max(ends) < self._grace:
            return []
        self._closed.pop(user, None)
        self._polled.pop(user, None)
        if user not in self._online:
            return []
        self._online.discard(user)
        return [(user, False)]


class RateGate:
    """At most ``burst`` events per ``period`` seconds per key (a sliding window)."""

    def __init__(
        self,
        burst: int = TYPING_BURST,
        period: float = TYPING_PERIOD,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._burst = burst
        self._period = period
        self._clock = clock
        self._seen: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        """Count one event for ``key``; False when it is over the limit (and then not counted)."""
        now = self._clock()
        times = self._seen.setdefault(key, deque())
        while times and now - times[0] >= self._period:
            times.popleft()
        if len(times) >= self._burst:
            return False
        times.append(now)
        if len(self._seen) > 10_000:
            # Forget idle keys so the table cannot grow with every user ever seen.
            self._seen = {k: v for k, v in self._seen.items() if v and now - v[-1] < self._period}
        return True

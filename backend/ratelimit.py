"""Per-key rate limits: token buckets for sending and creating, a sliding window for failed sign-ins.

Small enough to own: each answers "how many seconds until this key may act again" (0 when it may
now), which is exactly what the ``Retry-After`` header needs. A limit of 0 turns it off.

Each limit reads the time from a clock it is given (seconds, only ever compared and subtracted):
``time.monotonic`` in a running backend, a clock the test moves by hand in tests, so that a test of
a five-minute window takes no five minutes. The app passes ``RATE_LIMIT_CLOCK`` from its config.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

Clock = Callable[[], float]


class TokenBucket:
    """A burst of ``burst`` actions, refilled at ``rate`` per second, per key."""

    def __init__(self, burst: float, rate: float, clock: Clock = time.monotonic):
        self.enabled = burst > 0 and rate > 0
        self._burst, self._rate = burst, rate
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)
        self._lock = threading.Lock()

    def take(self, key: str) -> int:
        """Spend one token; return 0 if allowed, else the whole seconds to wait."""
        if not self.enabled:
            return 0
        now = self._clock()
        with self._lock:
            tokens, then = self._buckets.get(key, (self._burst, now))
            tokens = min(self._burst, tokens + (now - then) * self._rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / self._rate))


class FailureWindow:
    """At most ``limit`` failures per key within ``window`` seconds."""

    def __init__(self, limit: int, window: float, clock: Clock = time.monotonic):
        self.enabled = limit > 0
        self._limit, self._window = limit, window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> int:
        """0 if ``key`` may try now, else the whole seconds until its oldest failure expires."""
        if not self.enabled:
            return 0
        now = self._clock()
        with self._lock:
            failures = self._failures.get(key)
            if not failures:
                return 0
            while failures and failures[0] <= now - self._window:
                failures.popleft()
            if len(failures) < self._limit:
                return 0
            return max(1, math.ceil(failures[0] + self._window - now))

    def record(self, key: str) -> None:
        """Count one failure."""
        if self.enabled:
            with self._lock:
                self._failures.setdefault(key, deque()).append(self._clock())

    def clear(self, key: str) -> None:
        """Forget a key's failures (after a successful sign-in)."""
        with self._lock:
            self._failures.pop(key, None)

"""A clock that moves only when a test says so, for the backend's rate limits.

Give it to the backend app as ``RATE_LIMIT_CLOCK`` (or to a limit directly) and call
:meth:`ManualClock.advance` instead of sleeping through a rate-limit window.
"""

from __future__ import annotations


class ManualClock:
    """Seconds, starting at an arbitrary point, as ``time.monotonic`` would give them."""

    def __init__(self, start: float = 1000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        self.now += seconds

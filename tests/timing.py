"""Time in tests: a clock the test moves by hand, and waiting in real time for a condition.

``tests/conftest.py`` registers this module as a pytest plugin, so the ``clock`` fixture (a fresh
:class:`Clock` at 1000.0, for code that takes a ``clock`` callable) is there by name; import
``Clock`` for annotations and ``wait_for`` by name.
"""

from __future__ import annotations

import time

import pytest


class Clock:
    """A monotonic clock the test moves by hand: give it where code takes a ``clock`` callable
    (the hub, presence, and the backend's rate limits as ``RATE_LIMIT_CLOCK``)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    """A fresh clock at 1000.0 seconds."""
    return Clock()


def wait_for(condition, timeout: float, every: float = 0.1) -> bool:
    """Whether ``condition()`` became true within ``timeout`` seconds, asked every ``every`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return bool(condition())

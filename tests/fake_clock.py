"""A clock the unit tests move by hand, for code that takes a ``clock`` callable.

``tests/conftest.py`` registers this module as a pytest plugin, so the ``clock`` fixture (a fresh
:class:`Clock` at 1000.0) is there by name; import ``Clock`` for annotations.
"""

from __future__ import annotations

import pytest


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """A fresh clock at 1000.0 seconds."""
    return Clock()

"""Timestamps as the contract writes them: ISO 8601, UTC, milliseconds, a trailing ``Z``."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def iso_from_epoch(seconds: float) -> str:
    """Format a Unix time."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def now_iso() -> str:
    """The current time."""
    return iso_from_epoch(time.time())

"""What guards ``POST /api/session``: failures per name and per client address, new accounts per
address, and a cap on password hashes running at once.

Every sign-in or registration costs one scrypt hash (slow and memory-hard on purpose), so the
limits are checked *before* hashing, and a request that would hash beyond the cap is refused at
once with ``429 rate_limited`` and ``Retry-After: 1`` rather than queued: a queue of hashes would
hold request threads and make every real user's sign-in wait behind an attacker's. The client
address is what the front server says it is (:mod:`backend.clients`).

Each limit is 0 to turn it off, set by the backend's flags (README's limits table).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .ratelimit import Clock, FailureWindow, TokenBucket
from .refusals import Busy, RateLimited


class SignInGuard:
    """The limits of one backend's sign-ins; thread-safe."""

    def __init__(self, config: dict, clock: Clock):
        window = config["LOGIN_WINDOW"]
        self._by_name = FailureWindow(config["LOGIN_FAILURES"], window, clock)
        self._by_address = FailureWindow(config["ADDRESS_LOGIN_FAILURES"], window, clock)
        self._registrations = TokenBucket(config["REGISTRATION_BURST"], config["REGISTRATION_RATE"], clock)
        cap = config["HASH_CONCURRENCY"]
        self._hashing = threading.BoundedSemaphore(cap) if cap > 0 else None

    def admit(self, name_key: str, address: str) -> None:
        """Refuse a caller whose name or address has failed too often lately."""
        wait = max(self._by_name.retry_after(name_key), self._by_address.retry_after(address))
        if wait:
            raise RateLimited(f"Too many failed sign-ins; try again in {wait} s.", retry_after=wait)

    def register(self, address: str) -> None:
        """Spend one new account of ``address``'s allowance, or refuse."""
        wait = self._registrations.take(address)
        if wait:
            raise RateLimited(
                f"Too many new accounts from your address; try again in {wait} s.", retry_after=wait
            )

    @contextmanager
    def hashing(self) -> Iterator[None]:
        """Hold one of the password-hashing slots for the ``with`` block, or refuse at once."""
        if self._hashing is None:
            yield
            return
        if not self._hashing.acquire(blocking=False):
            raise Busy("The server is busy checking other sign-ins; try again in a second.", retry_after=1)
        try:
            yield
        finally:
            self._hashing.release()

    def failed(self, name_key: str, address: str) -> None:
        """Count a wrong password against both the name and the address."""
        self._by_name.record(name_key)
        self._by_address.record(address)

    def succeeded(self, name_key: str) -> None:
        """Forget the name's failures; the address's stay (an attacker's own account must not
        wipe the failures of its guesses at others)."""
        self._by_name.clear(name_key)

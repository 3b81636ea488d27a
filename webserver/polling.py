"""Long-polls of ``GET /api/events``, answered from the hub's memory: none waits on the backend.

A poll whose ``after`` is at or past the hub's ``pos`` asks only for events the hub has not applied
yet, and the hub already knows exactly whom each event concerns (the rule of the backend's per-user
feed). Such a poll becomes a :class:`Waiter` registered with the hub: the hub's fan-out hands it
every frame meant for its user after its cursor, and the poll answers with what it holds. A poll
at any other cursor first asks the backend without waiting (:mod:`webserver.relay`): a poll behind
the hub catches up, and a cursor past the end of the log is brought back to the end, as the backend
counts it. A parameter the backend would refuse is relayed to it, which stays the one place that
validates parameters and reads history.

A parked poll also takes the hub's signals, the frames without a ``pos`` (typing notices): one
wakes the poll, which answers with them in ``signals`` beside its events, so a page that polls sees
who is typing. Signals are never stored and never replayed; a poll not parked when one is sent
misses it, as a closed WebSocket would.

No Flask import: the hub uses this module, and so do unit tests without a server.
"""

from __future__ import annotations

import threading

from common.limits import EVENTS_BATCH, LONG_POLL_MAX_WAIT

# Signals one parked poll keeps; more are dropped (the hub's typing limit keeps far below it).
SIGNALS_MAX = 50


def local_params(args: object) -> tuple[int, float] | None:
    """``(after, wait)`` when a poll could be answered here, else None (relay it).

    Only values the backend would accept, read the way it reads them (``int()`` from 0 for
    ``after``, ``float()`` from 0 to 30 for ``wait``), and only a real wait: anything else is the
    backend's to answer, error messages included.
    """
    raw_after, raw_wait = args.get("after"), args.get("wait")
    if raw_after is None or raw_wait is None:
        return None
    try:
        after, wait = int(raw_after), float(raw_wait)
    except ValueError:
        return None
    if after < 0 or not 0 < wait <= LONG_POLL_MAX_WAIT:  # the comparison also refuses nan
        return None
    return after, wait


class Waiter:
    """One parked long-poll: the frames the hub handed it, and the wake-up of its request."""

    __slots__ = ("user", "after", "frames", "signals", "closed_at", "_arrived")

    def __init__(self, user: str, after: int = 0):
        self.user = user
        self.after = after  # the poll's cursor: events up to it are the client's already
        self.frames: list[str] = []
        self.signals: list[str] = []  # typing notices, answered beside the events
        self.closed_at: int | None = None  # the pos at which a full waiter stopped taking frames
        self._arrived = threading.Event()

    def offer(self, pos: int, frame: str) -> bool | None:
        """Take event ``pos``'s frame; True when the waiter is now full and must take no more.

        None when ``pos`` is not after the poll's cursor (the hub was a moment behind the backend
        when the poll was parked): not taken.
        """
        if pos <= self.after:
            return None
        self.frames.append(frame)
        self._arrived.set()
        return len(self.frames) >= EVENTS_BATCH

    def signal(self, frame: str) -> None:
        """Take one signal (a frame without ``pos``) and wake the poll so that it answers now."""
        if len(self.signals) < SIGNALS_MAX:
            self.signals.append(frame)
        self._arrived.set()

    def wake(self) -> None:
        """Answer now with what it holds (the backend went away)."""
        self._arrived.set()

    def wait(self, timeout: float) -> bool:
        """Block until a frame arrives or ``timeout`` seconds pass; True if one arrived."""
        return self._arrived.wait(timeout)


class Waiters:
    """The parked long-polls by username. Not locked: the hub calls it under its own lock."""

    def __init__(self) -> None:
        self._by_user: dict[str, set[Waiter]] = {}

    def add(self, waiter: Waiter) -> None:
        """Park ``waiter`` for its user."""
        self._by_user.setdefault(waiter.user, set()).add(waiter)

    def remove(self, waiter: Waiter) -> None:
        """Forget ``waiter`` (answered, timed out, or full)."""
        waiters = self._by_user.get(waiter.user)
        if waiters is not None:
            waiters.discard(waiter)
            if not waiters:
                del self._by_user[waiter.user]

    def users(self) -> set[str]:
        """The users with at least one parked poll."""
        return set(self._by_user)

    def hand(self, user: str, pos: int, frame: str) -> int:
        """Give event ``pos``'s frame to every parked poll of ``user``; returns how many took it.

        A waiter that reaches the contract's batch (:data:`~common.limits.EVENTS_BATCH`) is
        detached at once with ``pos`` as its cursor, so the next event is left for the poll that
        follows it, not lost.
        """
        waiters = self._by_user.get(user)
        if not waiters:
            return 0
        count = 0
        for waiter in list(waiters):
            taken = waiter.offer(pos, frame)
            if taken is not None:
                count += 1
            if taken:
                waiter.closed_at = pos
                self.remove(waiter)
        return count

    def signal(self, user: str, frame: str) -> None:
        """Give a signal to every parked poll of ``user``; they stay parked until they answer."""
        for waiter in self._by_user.get(user, ()):
            waiter.signal(frame)

    def wake_all(self) -> None:
        """Wake every parked poll."""
        for waiters in self._by_user.values():
            for waiter in waiters:
                waiter.wake()

    def __len__(self) -> int:
        return sum(len(w) for w in self._by_user.values())


def answer_body(
    frames: list[str], pos: int, signals: list[str] | None = None, *, backend_ok: bool = True
) -> bytes:
    """The ``/api/events`` answer, byte for byte as the backend builds it from its stored lines.

    With signals (typing notices), they follow as ``"signals": [...]``; an answer without any has
    no such key. While the backend cannot be reached the answer says so (``"backend":
    "unavailable"``, ours beyond the contract), as the ``status`` frame does on a WebSocket.
    """
    extra = b',"signals":[%s]' % ",".join(signals).encode() if signals else b""
    if not backend_ok:
        extra += b',"backend":"unavailable"'
    return b'{"events":[%s],"pos":%d,"more":false%s}' % (",".join(frames).encode(), pos, extra)

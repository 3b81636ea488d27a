"""Which events a front server gets in its answers, so that its long-poll need not wake for them.

A front server's hub long-polls the whole log (``/internal/events``). The answer to a change it
relayed also carries that change's events (:mod:`backend.handover`), which its hub broadcasts at
once; waking its long-poll for them too would send each event to it twice, an HTTP round trip
each. So a call relayed by a front server (:data:`common.feed.FRONT_HEADER`) notes each position it
appends for that front server, and that front server's long-poll sleeps through them. It is
answered as soon as the log holds an event it was not handed, as soon as a handover is taken back
(the call failed, or appended too many to hand over), and at the latest :data:`HANDED_QUIET`
seconds after the first event it slept through. It then serves every event after its cursor as
always, the handed ones included (the hub drops those it applied), so an answer the front server
never read costs a delay of at most :data:`HANDED_QUIET`, never an event.

Threading: :meth:`Handoffs.appended` runs in :meth:`backend.store.Store._append`, under the store's
lock, before the append wakes the long-polls; the rest takes that lock itself when it changes
what a sleeping long-poll reads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

Page = tuple[list[int], int, bool]  # positions to serve, the cursor after them, whether more wait
Select = Callable[[int, int], Page]

# Seconds a long-poll sleeps through events handed to its front server before it serves them
# anyway: the longest a lost answer can hold an event back from that front server's clients.
HANDED_QUIET = 0.5

# Positions remembered for one front server at most; past it they are forgotten, which only means
# its long-poll wakes for them (a front server that relays changes but stopped polling).
KEEP_AT_MOST = 10_000


class Handoffs:
    """Positions handed to each front server in answers, and the calls under way that append them."""

    def __init__(self, changed: threading.Condition, log_pos: Callable[[], int]):
        """``changed`` is the store's condition: its lock guards the positions, and it wakes the
        long-polls when a handover is taken back. ``log_pos()`` is the log's last ``pos``."""
        self._changed = changed
        self._log_pos = log_pos
        self._handed: dict[str, set[int]] = {}  # front server -> positions handed or being handed
        self._call = threading.local()  # the relaying front server and appends of this thread's call
        self._taken_back = 0  # counts take-backs: a sleeping long-poll checks its positions again

    def begin(self, front: str) -> None:
        """The calling thread's call was relayed by ``front``: what it appends goes to it."""
        self._call.front, self._call.positions = front, []

    def appended(self, pos: int) -> None:
        """Note ``pos`` for the front server that relayed this thread's call, if any (lock held)."""
        front = getattr(self._call, "front", None)
        if front is None:
            return
        handed = self._handed.setdefault(front, set())
        if len(handed) >= KEEP_AT_MOST:
            handed.clear()
        handed.add(pos)
        self._call.positions.append(pos)

    def handed_over(self) -> None:
        """The call's answer carries what it appended: keep the positions noted."""
        self._call.positions = []

    def end(self) -> None:
        """The call is over: take back what its answer did not carry, and wake the long-polls."""
        front = getattr(self._call, "front", None)
        if front is None:  # every request ends here; most were relayed by no front server
            return
        positions = self._call.positions
        self._call.front, self._call.positions = None, []
        if not positions:
            return
        with self._changed:
            self._handed.get(front, set()).difference_update(positions)
            self._taken_back += 1
            self._changed.notify_all()

    def sleep_through(
        self, front: str, after: int, limit: int, page: Page, deadline: float, select: Select
    ) -> Page:
        """Go on waiting while every event of ``page`` (the first up to ``limit`` after ``after``) was
        handed to ``front``; the page with what came meanwhile.

        Waits until an event comes that was not handed, one is taken back, :data:`HANDED_QUIET`
        passed since this began, or ``deadline``. ``select(cursor, limit)`` is the page of events
        after ``cursor``, without waiting. A page is ``(positions, cursor, more)``.
        """
        with self._changed:
            self._forget_through(front, after)
        found, cursor, more = page
        quiet_until = time.monotonic() + HANDED_QUIET
        while found and not more:
            taken_back = self._taken_back
            remaining = min(quiet_until, deadline) - time.monotonic()
            if remaining <= 0 or not self._all_handed(front, found):
                break
            with self._changed:
                self._changed.wait_for(
                    lambda seen=cursor, taken=taken_back: self._log_pos() > seen or self._taken_back != taken,
                    remaining,
                )
            later, cursor, more = select(cursor, limit - len(found))
            found = found + later
        return found, cursor, more

    def _all_handed(self, front: str, positions: Iterable[int]) -> bool:
        handed = self._handed.get(front, ())
        return all(pos in handed for pos in positions)

    def _forget_through(self, front: str, pos: int) -> None:
        """Drop the positions at or before ``pos``: the front server's hub is past them. A front
        server whose hub is past every position it was handed is forgotten."""
        kept = {handed for handed in self._handed.pop(front, ()) if handed > pos}
        if kept:
            self._handed[front] = kept

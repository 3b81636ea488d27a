"""Files as a background class: they move at the pace the chat leaves them.

A file's bytes cost CPU in every process they cross (this one, the backend, the kernel's loopback
copies, the clients), and on a machine short of cores the kernel shares the cores without knowing
a file's piece from a chat message. Twenty uploads of 5 MiB at once, unpaced, held the chat's
deliveries back by 65 ms at p99 where 10 ms is usual (docs/benchmark.md, scenario 10). Inside this
process the chat already goes first (:mod:`webserver.files` waits for an idle loop between pieces);
across processes this pacer does it, the way LEDBAT (RFC 6817) makes a bulk transfer yield to
interactive traffic on a shared link: it watches a delay that the chat itself feels and slows the
files as soon as that delay grows over its floor.

The delay watched is the round trip of storing a message in the backend (every send, over the
WebSocket or HTTP), and the lateness of the pacer's own sleeps (this process waiting for a core).
The floor is the least round trip of the last :data:`FLOOR_SECONDS`. A delay over the floor of
more than :data:`TARGET_DELAY` cuts the files' rate at once, in proportion (never below
:data:`MIN_RATE`; files that ran unpaced start again from it), at most once every
:data:`CONTROL_INTERVAL`; an interval without one lets the rate climb by :data:`INCREASE`, and past
:data:`MAX_RATE` files are not paced at all. While nobody sends a message there is nothing to
yield to, and files take all the machine gives them. One pacer serves every file of the process,
up and down together: the backend's side of a transfer moves at the pace this process passes it on.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

# Seconds between cuts of the rate (the delays that follow a cut are the same queue draining), and
# between steps of its climb.
CONTROL_INTERVAL = 0.1
# A window this much overdue saw neither a file nor a message for a while: files start unpaced
# again rather than be judged by a burst long gone.
STALE_INTERVAL = 3 * CONTROL_INTERVAL
# Seconds over the floor a message's round trip may take before the files slow down. The chat's
# delivery target is 25 ms at p99 from sender to every receiver; a store is one of four hops.
TARGET_DELAY = 0.005
# Seconds of round trips the floor is the least of: long enough to hold a quiet moment, short
# enough to follow a backend that has become slower for good (a larger log, a busier disk).
FLOOR_SECONDS = 30
# Bytes a second, for all the files of this process together.
MIN_RATE = 4 * 1024 * 1024  # a 25 MiB file still moves in seconds, however busy the chat
MAX_RATE = 1024 * 1024 * 1024  # past this, files are not paced at all
# Over the target, the rate is cut in proportion (halved at least: a delay of four times the
# target quarters it); under it, it climbs by INCREASE bytes a second each second: the quick fall
# and slow climb that keep a shared link's queue short (TCP's AIMD, LEDBAT's controller).
DECREASE = 0.5
INCREASE = 64 * 1024 * 1024


class FilePacer:
    """The pace of this process's files: :meth:`delay` before each piece, fed by :meth:`observe`
    (a message's round trip to the backend) and :meth:`late` (a pacing sleep that overran)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # Bytes a second for all files of this process; None while files are not paced.
        self.rate: float | None = None
        self._due = 0.0  # when the next piece may go
        self._floors: deque[tuple[int, float]] = deque()  # (second, least round trip in it)
        self._window_start = clock()
        self._cut = False  # whether the rate was cut in this window

    @property
    def floor(self) -> float | None:
        """The least round trip of a message's store of the last FLOOR_SECONDS, if any was seen."""
        return min((least for _, least in self._floors), default=None)

    def delay(self, nbytes: int) -> float:
        """Seconds to wait before passing ``nbytes`` of a file on (0 while files are not paced)."""
        now = self._clock()
        self._next_window(now)
        if self.rate is None:
            return 0.0
        start = max(now, self._due)
        self._due = start + nbytes / self.rate
        return start - now

    def observe(self, seconds: float) -> None:
        """A message's store took ``seconds``, from this process's call to the backend's answer."""
        now = self._clock()
        self._next_window(now)
        second = int(now)
        if self._floors and self._floors[-1][0] == second:
            if seconds < self._floors[-1][1]:
                self._floors[-1] = (second, seconds)
        else:
            self._floors.append((second, seconds))
            while self._floors[0][0] <= second - FLOOR_SECONDS:
                self._floors.popleft()
        self._delayed(seconds - self.floor)

    def late(self, seconds: float) -> None:
        """A pacing sleep ended ``seconds`` after it was due: this process waited for a core."""
        self._delayed(seconds)

    def _delayed(self, over: float) -> None:
        """The chat waited ``over`` seconds more than it must: past the target, the files slow down
        at once (once a window: the delays that follow are the same queue draining)."""
        if over <= TARGET_DELAY or self._cut:
            return
        self._cut = True
        if self.rate is None:  # files ran unpaced: no pace to cut from, start again from the least
            self.rate = MIN_RATE
        else:
            self.rate = max(MIN_RATE, self.rate * min(DECREASE, TARGET_DELAY / over))

    def _next_window(self, now: float) -> None:
        """At a window's end, a window without a slow store lets the files' pace climb."""
        elapsed = now - self._window_start
        if elapsed < CONTROL_INTERVAL:
            return
        if elapsed >= STALE_INTERVAL:
            self.rate = None  # a quiet spell: nothing to judge, nothing to yield to
        elif not self._cut and self.rate is not None:
            self.rate += INCREASE * elapsed
            if self.rate > MAX_RATE:
                self.rate = None
        self._window_start = now
        self._cut = False

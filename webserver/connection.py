"""One WebSocket as the hub sees it: who, which session, and a bounded queue with one writer.

The WebSocket library has no locks, and two greenlets writing one socket at once interleave
their frames. So nothing writes a socket directly: frames are queued on its :class:`Connection`
and exactly one writer sends them in order, several in one socket write. The writer exists only
while the connection is in use: the first frame queued on an idle connection starts it
(``spawn``, a greenlet under gevent), it sends every frame waiting, then waits for the next ones;
once it has waited :data:`LINGER` seconds with nothing to send, :func:`retire_idle_writers`
(called every second) ends it. A busy connection thus wakes a waiting writer (the cheapest
wake-up gevent has) rather than starting one per message, and an idle one holds no writer's
stack. A burst (a page of the log the hub applies in one go) reaches each socket in one write:
the writer runs only once the greenlet that queued the burst yields. A lone frame (an ack, one
live event) for a connection with nothing queued and nothing in its writer's hands is written at
once instead, in the call that queued it, when the socket takes it without waiting (``send_now``):
no writer is woken and no greenlet switched to, once per recipient of a broadcast.

The queue is bounded: a connection whose queue overflows is a consumer that cannot keep up, and
it is closed (it will reconnect with ``after`` and catch up from the backend), so memory stays
bounded however many clients stall. No Flask import.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from gevent import monkey

# Frames a connection may have waiting. A browser on a working link drains a frame in well under
# a millisecond; a thousand queued frames means it has stopped reading (or the link has), and
# catching up from the backend after a reconnect is cheaper than holding more for it.
OUTBOX_LIMIT = 1000

# Frames written in one socket write at most. A chat frame is a few hundred bytes and at most
# about 25 KB (4,000 escaped characters), so one write stays well under 2 MB.
WRITE_BATCH = 64

# Seconds a catch-up waits before looking again whether a full queue has room.
PUT_RETRY = 0.02

# Seconds a writer waits with nothing to send before it is ended: a chat in use sends more often,
# and an idle connection gives its writer's stack back soon after.
LINGER = 2.0

_os_lock = monkey.get_original("_thread", "allocate_lock")

# Writers waiting with nothing to send, for retire_idle_writers.
_waiting: set[Connection] = set()


def retire_idle_writers(now: float | None = None) -> int:
    """End the writers that have waited :data:`LINGER` seconds with nothing to send; how many."""
    now = time.monotonic() if now is None else now
    retired = 0
    for conn in list(_waiting):
        retired += conn._retire(now)
    return retired


# Close codes: 1013 "try again later" tells the client to reconnect (and catch up with `after`).
CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008  # the peer broke a rule (a flood of frames), or its session expired
CLOSE_TRY_AGAIN = 1013


class Connection:
    """One open WebSocket as the hub sees it: user, session token, outbound queue, stream cursor.

    ``abort`` (optional) is called when the connection is dropped as too slow; it should shut the
    socket down so that a writer stuck in a blocking send wakes up and ends. Until :meth:`attach`
    gives it a socket to write to, frames only wait in the queue (:meth:`next_frames` reads them).
    """

    # Ten thousand idle connections each hold one: slots keep them to their fields.
    __slots__ = (
        "user", "token", "limit", "closed", "close_code", "close_reason", "last_pos", "catching_up",
        "held", "_frames", "_lock", "_abort", "_send", "_send_now", "_close_socket", "_spawn", "_writing",
        "_in_send", "_wake", "_waiting_since", "_retiring", "_written",
    )  # fmt: skip

    def __init__(self, user: str, token: str, *, limit: int = OUTBOX_LIMIT, abort: Callable | None = None):
        self.user = user
        self.token = token
        self.limit = limit
        self.closed = False
        self.close_code = CLOSE_NORMAL
        self.close_reason = ""
        # Guarded by the hub's lock: the last event pos queued, and live events held back while
        # the connection replays what it missed (see Hub.register and Hub.finish_catch_up).
        self.last_pos = 0
        self.catching_up = False
        self.held: list[tuple[int, str]] = []
        # A list, not a deque: an empty list holds no storage (a deque keeps a block of 64 slots),
        # and the writer mostly takes the whole queue at once (_take). A frame is a str (a text
        # frame's payload), or bytes: a whole frame (a ping or a pong), or the rest of one that
        # went out in part (send_now, in attach).
        self._frames: list[str | bytes] = []
        # Guards the queue against the writer's "empty, so I end" and the closing state: a frame
        # queued just as the writer ends starts a new one, never waits for nobody. An OS lock even
        # under gevent (a tenth of the cost of gevent's, on every frame queued): nothing between
        # its acquire and release can switch greenlets, so it is never waited for there, and it
        # still guards real threads (the unit tests).
        self._lock = _os_lock()
        self._abort = abort
        self._send: Callable[[list[str | bytes]], Any] | None = None
        self._send_now: Callable[[str | bytes], bytes | None] | None = None
        self._close_socket: Callable[[int, str], Any] | None = None
        self._spawn: Callable[[Callable[[], None]], Any] | None = None
        self._writing = False  # a writer is running (or about to)
        self._in_send = False  # the writer holds frames it took and has not written yet
        self._wake: threading.Event | None = None  # the waiting writer's wake-up, while it waits
        self._waiting_since = 0.0
        self._retiring = False
        self._written: threading.Event | None = None  # made at close: set once the socket is closed

    def attach(
        self,
        send: Callable[[list[str | bytes]], Any],
        close: Callable[[int, str], Any],
        spawn: Callable[[Callable[[], None]], Any],
        send_now: Callable[[str | bytes], bytes | None] | None = None,
    ) -> None:
        """Write to a socket from now on: ``send(frames)`` writes frames in one go, ``close(code,
        reason)`` closes it once the queue is sent, ``spawn(fn)`` runs the writer ``fn`` apart (a
        greenlet under gevent, started at the next turn of the loop). ``send_now(frame)``, if
        given, writes a frame at once when the socket takes it without waiting, and returns None,
        or else the framed bytes still to write: a frame queued while nothing waits and the writer
        holds nothing goes that way, with no writer woken and no switch to it."""
        with self._lock:
            self._send, self._close_socket, self._spawn = send, close, spawn
            self._send_now = send_now
            start = bool(self._frames) and self._claim_writer()
        if start:
            spawn(self._write)

    def push(self, frame: str | bytes, *, at_once: bool = True) -> bool:
        """Queue a frame without waiting; a full queue closes the connection (returns False).

        ``at_once``: write it now if the socket takes it (see :meth:`attach`); false for a frame
        of a burst, which the writer then sends with the rest in one write."""
        if self.closed:
            return False
        if len(self._frames) >= self.limit:
            self.close(CLOSE_TRY_AGAIN, "too slow, reconnect", abort=True)
            return False
        self._queue(frame, at_once)
        return True

    def put(self, frame: str, timeout: float | None = None) -> bool:
        """Queue a frame, waiting while the queue is full (catch-up pushes back, never drops)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.closed and len(self._frames) >= self.limit:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            # Catch-up is rare and a full queue drains in milliseconds on a working link: a
            # short sleep costs less than a second wake-up signal on every frame written.
            time.sleep(PUT_RETRY)
        if self.closed:
            return False
        self._queue(frame, at_once=False)
        return True

    def deliver(self, pos: int, frame: str, *, at_once: bool = True) -> None:
        """Queue one live event (hub lock held): in pos order, none twice, held during catch-up;
        ``at_once`` as for :meth:`push`."""
        if pos <= self.last_pos:
            return
        if self.catching_up:
            self.held.append((pos, frame))
            if len(self.held) > self.limit:
                self.close(CLOSE_TRY_AGAIN, "too slow, reconnect", abort=True)
            return
        self.last_pos = pos
        self.push(frame, at_once=at_once)

    def close(self, code: int = CLOSE_NORMAL, reason: str = "", *, abort: bool = False) -> None:
        """Ask the writer to send what is queued, then close; ``abort`` drops the queue first."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            self.close_code = code
            self.close_reason = reason
            if abort:
                self._frames.clear()
                self.held = []
            start = False
            wake = None
            if self._spawn is not None:
                self._written = threading.Event()
                start = self._claim_writer()
                wake, self._wake = self._wake, None
        if start:
            self._spawn(self._write)
        elif wake is not None:
            wake.set()
        if abort and self._abort is not None:
            self._abort()

    def wait_written(self, timeout: float | None = None) -> bool:
        """After :meth:`close`: wait until the queue is sent and the socket closed (or ``timeout``)."""
        written = self._written
        return written is None or written.wait(timeout)

    def pending(self) -> int:
        """How many frames wait in the queue."""
        return len(self._frames)

    def next_frames(self, most: int = WRITE_BATCH) -> list[str | bytes]:
        """Up to ``most`` frames off the queue, oldest first, without waiting (what a writer would
        send next); empty when none wait."""
        with self._lock:
            return self._take(most)

    def _queue(self, frame: str | bytes, at_once: bool) -> None:
        with self._lock:
            idle = not (self._frames or self._in_send or self.closed)
            if at_once and idle and self._send_now is not None:
                rest = self._send_now(frame)
                if rest is None:
                    return
                frame = rest
            self._frames.append(frame)
            start = self._spawn is not None and self._claim_writer()
            wake, self._wake = self._wake, None
        if start:
            self._spawn(self._write)
        elif wake is not None:
            wake.set()

    def _retire(self, now: float) -> bool:
        """End the writer if it has waited LINGER seconds with nothing to send."""
        with self._lock:
            wake = self._wake
            if wake is None or now - self._waiting_since < LINGER:
                return False
            self._wake, self._retiring = None, True
        wake.set()
        return True

    def _claim_writer(self) -> bool:
        """(Lock held.) Whether the caller should start the writer: none runs, so one is due now."""
        if self._writing:
            return False
        self._writing = True
        return True

    def _take(self, most: int) -> list[str | bytes]:
        frames = self._frames
        if len(frames) <= most:
            self._frames = []
            return frames
        taken = frames[:most]
        del frames[:most]
        return taken

    def _write(self) -> None:
        """The writer: sends every waiting frame (up to :data:`WRITE_BATCH` per socket write), waits
        for more, ends when retired while idle; once the connection is closed, closes the socket."""
        wake = threading.Event()
        while True:
            with self._lock:
                frames = self._take(WRITE_BATCH)
                self._in_send = bool(frames)
                if frames:
                    self._retiring = False  # in use again: not idle after all
                elif not self.closed:
                    if self._retiring:
                        self._retiring = self._writing = False
                        return
                    wake.clear()
                    self._wake, self._waiting_since = wake, time.monotonic()
            if frames:
                try:
                    self._send(frames)
                except Exception:  # the peer went away: nothing more can be written
                    self.close(CLOSE_NORMAL, "", abort=True)
                continue
            if self.closed:
                break
            _waiting.add(self)
            try:
                wake.wait()
            finally:
                _waiting.discard(self)
        try:
            self._close_socket(self.close_code, self.close_reason)
        except Exception:  # already closed by the peer or by the protocol layer
            pass
        finally:
            self._written.set()

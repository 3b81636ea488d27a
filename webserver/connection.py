"""One WebSocket as the hub sees it: who, which session, and a bounded queue with one writer.

The WebSocket library has no locks, and two greenlets writing one socket at once interleave
their frames. So nothing writes a socket directly: frames are queued on its :class:`Connection`
and exactly one writer, :meth:`Connection.pump`, sends them in order. The queue is bounded: a
connection whose queue overflows is a consumer that cannot keep up, and it is closed (it will
reconnect with ``after`` and catch up from the backend), so memory stays bounded however many
clients stall. No Flask import.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

# Frames a connection may have waiting. A browser on a working link drains a frame in well under
# a millisecond; a thousand queued frames means it has stopped reading (or the link has), and
# catching up from the backend after a reconnect is cheaper than holding more for it.
OUTBOX_LIMIT = 1000

# Frames written in one socket write at most. A chat frame is a few hundred bytes and at most
# about 25 KB (4,000 escaped characters), so one write stays well under 2 MB.
WRITE_BATCH = 64

# Seconds a catch-up waits before looking again whether a full queue has room.
PUT_RETRY = 0.02

# Close codes: 1013 "try again later" tells the client to reconnect (and catch up with `after`).
CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008  # the peer broke a rule (a flood of frames), or its session expired
CLOSE_TRY_AGAIN = 1013


class Connection:
    """One open WebSocket as the hub sees it: user, session token, outbound queue, stream cursor.

    ``abort`` (optional) is called when the connection is dropped as too slow; it should shut the
    socket down so that a writer stuck in a blocking send wakes up and ends.
    """

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
        self._frames: deque[str] = deque()
        # The writer sleeps on this event while the queue is empty. An event (not a condition) is
        # the cheapest wake-up gevent has, and fan-out sets it once per frame per recipient.
        # deque appends and pops are atomic, so the queue itself needs no lock.
        self._wake = threading.Event()
        self._closing = threading.Lock()
        self._abort = abort

    def push(self, frame: str) -> bool:
        """Queue a frame without waiting; a full queue closes the connection (returns False)."""
        if self.closed:
            return False
        if len(self._frames) >= self.limit:
            self.close(CLOSE_TRY_AGAIN, "too slow, reconnect", abort=True)
            return False
        self._frames.append(frame)
        if not self._wake.is_set():
            self._wake.set()
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
        self._frames.append(frame)
        self._wake.set()
        return True

    def deliver(self, pos: int, frame: str) -> None:
        """Queue one live event (hub lock held): in pos order, none twice, held during catch-up."""
        if pos <= self.last_pos:
            return
        if self.catching_up:
            self.held.append((pos, frame))
            if len(self.held) > self.limit:
                self.close(CLOSE_TRY_AGAIN, "too slow, reconnect", abort=True)
            return
        self.last_pos = pos
        self.push(frame)

    def close(self, code: int = CLOSE_NORMAL, reason: str = "", *, abort: bool = False) -> None:
        """Ask the writer to send what is queued, then close; ``abort`` drops the queue first."""
        with self._closing:
            if self.closed:
                return
            self.closed = True
            self.close_code = code
            self.close_reason = reason
            if abort:
                self._frames.clear()
                self.held = []
        self._wake.set()
        if abort and self._abort is not None:
            self._abort()

    def pending(self) -> int:
        """How many frames wait in the queue."""
        return len(self._frames)

    def next_frame(self, timeout: float | None = None) -> str | None:
        """The next frame to write; None once the connection is closed and the queue empty."""
        frames = self.next_frames(1, timeout)
        return frames[0] if frames else None

    def next_frames(self, most: int, timeout: float | None = None) -> list[str]:
        """Up to ``most`` frames to write, waiting for one; empty once closed and drained."""
        frames = self._frames
        while not frames:
            if self.closed:
                return []
            self._wake.clear()
            # Looked at again after clearing: a frame pushed just before the clear is not missed.
            if frames or self.closed:
                continue
            if not self._wake.wait(timeout):
                return []
        batch = []
        try:
            for _ in range(min(most, len(frames))):
                batch.append(frames.popleft())
        except IndexError:  # dropped meanwhile by an abort (only possible with real threads)
            pass
        return batch

    def pump(self, send: Callable[[list[str]], Any], close: Callable[[int, str], Any]) -> None:
        """The connection's one writer: send queued frames until closed, then ``close(code, reason)``.

        ``send`` gets every frame that is waiting (up to :data:`WRITE_BATCH`) at once, so a busy
        connection costs one wake-up and one socket write per batch instead of per frame.
        """
        while True:
            frames = self.next_frames(WRITE_BATCH)
            if not frames:
                break
            try:
                send(frames)
            except Exception:  # the peer went away: nothing more can be written
                self.close(CLOSE_NORMAL, "", abort=True)
                break
        try:
            close(self.close_code, self.close_reason)
        except Exception:  # already closed by the peer or by the protocol layer
            pass

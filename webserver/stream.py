"""The hub's one reader of the backend's event log.

:class:`EventStream` runs a single background loop (a greenlet under the gevent worker): it loads
``GET /internal/rooms`` once, then long-polls ``GET /internal/events?after=POS&wait=25`` and hands
every event, with the users the backend says it concerns, to :meth:`webserver.hub.Hub.apply` in
``pos`` order. The backend stores and fsyncs an
event before it shows up here, so nothing is broadcast that a crash could take back.

When the backend is down or answers badly the loop waits a short, growing pause and tries again,
forever; open WebSockets stay open meanwhile. It resumes from the hub's own ``pos``, so when the
backend returns no event is lost and none is applied twice (the hub also drops any ``pos`` at or
below the last applied one).
"""

from __future__ import annotations

import logging
import threading
import time

from webserver.backend_client import BackendClient, BackendRefused, BackendUnavailable
from webserver.connection import CLOSE_TRY_AGAIN, Connection, retire_idle_writers
from webserver.frames import error_frame
from webserver.hub import Hub, encode
from webserver.loops import Loops

log = logging.getLogger(__name__)

# Seconds the backend may hold a long-poll open. Under the 30 s that proxies and the backend's
# own limit allow, and long enough that an idle hub costs one request every 25 s.
LONG_POLL_WAIT = 25

# Seconds between attempts while the backend is away: the first retry is quick (a restart takes
# about a second), then the pause doubles up to the cap so a long outage costs little.
BACKOFF_FIRST = 0.2
BACKOFF_MAX = 2.0

# Seconds a catch-up keeps retrying an unreachable backend before telling the client to come back.
CATCH_UP_PATIENCE = 10.0

# Seconds a catch-up waits for a full queue to drain before giving the client up as stuck.
CATCH_UP_PUSH_WAIT = 30.0

# Seconds (connect, read) for one page of catch-up: the backend reads it from memory.
CATCH_UP_TIMEOUT = (0.5, 5.0)

# Seconds between presence sweeps: offline transitions are announced at most this late. The same
# loop ends the writers of connections idle for a while (webserver.connection.LINGER).
SWEEP_EVERY = 1.0


class EventStream:
    """Feeds a :class:`Hub` from the backend; :meth:`start` is idempotent and cheap to call."""

    def __init__(self, hub: Hub, backend: BackendClient, *, wait: float = LONG_POLL_WAIT):
        self.hub = hub
        self.backend = backend
        self.wait = wait
        self._loops = Loops((self._run, "chat-event-stream"), (self._sweep, "chat-presence"))
        self._stopping = threading.Event()
        # Ask again without waiting: the last answer said more events wait, or the last poll failed.
        self._behind = False

    def start(self) -> None:
        """Start the stream and the presence sweeper once, in the process that serves."""
        self._loops.start()

    def stop(self, timeout: float | None = None) -> None:
        """Ask the loops to end; with ``timeout``, wait that long for them (they finish a poll first)."""
        self._stopping.set()
        if timeout is not None:
            for thread in self._loops.threads:
                thread.join(timeout)

    def _run(self) -> None:
        pause = BACKOFF_FIRST
        while not self._stopping.is_set():
            try:
                if self.hub.ready.is_set():
                    self.poll_once()
                else:
                    self.load_rooms()
                self.hub.set_backend(True)
                pause = BACKOFF_FIRST
            except Exception as error:  # never let the one reader die: log, pause, go on
                if _unreachable(error):
                    # Clients hear it at once; the next poll asks without waiting, so that
                    # they hear of the backend's return as soon as it answers.
                    self.hub.set_backend(False)
                    self._behind = True
                if isinstance(error, BackendUnavailable | BackendRefused):
                    log.warning("event stream: %s; retrying in %.1f s", error, pause)
                else:
                    log.exception("event stream failed; retrying in %.1f s", pause)
                self._stopping.wait(pause)
                pause = min(pause * 2, BACKOFF_MAX)

    def load_rooms(self) -> None:
        """Load the rooms snapshot the hub starts from."""
        self.hub.load(*self.backend.rooms_snapshot())

    def poll_once(self) -> int:
        """One long-poll: apply what it brings; returns how many events were new."""
        after = self.hub.pos
        page = self.backend.addressed_events(after, wait=0 if self._behind else self.wait)
        # Those the hub has not applied yet (it may have had some ahead, from relayed answers).
        fresh = [(event, users) for event, users in page.events if event["pos"] > self.hub.pos]
        for event, users in fresh:
            self.hub.apply(event, users, burst=len(fresh) > 1)
        # Ask again at once only when this answer brought something: "more" with no events must
        # not turn the loop into a busy spin against the backend.
        self._behind = page.more and bool(page.events)
        if page.pos < after:
            # The backend's log is behind the hub's: a different data directory. Nothing can be
            # matched up; say so loudly rather than silently showing nothing new.
            log.error("event stream: backend pos %s is behind the hub's %s", page.pos, after)
            time.sleep(BACKOFF_MAX)
        return len(fresh)

    def _sweep(self) -> None:
        while not self._stopping.wait(SWEEP_EVERY):
            try:
                self.hub.sweep()
                retire_idle_writers()
            except Exception:
                log.exception("presence sweep failed")


def _unreachable(error: Exception) -> bool:
    """Whether a failed poll means the backend cannot serve: unreachable, or failing (5xx)."""
    if isinstance(error, BackendRefused):
        return error.status >= 500
    return isinstance(error, BackendUnavailable)


def catch_up(conn: Connection, hub: Hub, backend: BackendClient, after: int) -> None:
    """Replay to ``conn`` what its user missed after ``after``, then let its live events flow.

    The connection is registered before this runs, so live events arriving meanwhile are held
    by the hub; the replay pages through the backend's ``GET /api/events`` (filtered for the
    user) until ``more`` is false, and :meth:`Hub.finish_catch_up` then releases only the held
    events after the last replayed ``pos``: no gap and no repeat at the seam. A backend that is
    away is retried for a while; then the client gets ``backend_unavailable`` and a 1013 close.
    """
    cursor = after
    deadline = time.monotonic() + CATCH_UP_PATIENCE
    while not conn.closed:
        try:
            page = backend.user_events(conn.token, cursor, timeout=CATCH_UP_TIMEOUT)
        except BackendUnavailable:
            if time.monotonic() > deadline:
                conn.push(error_frame("backend_unavailable"))
                conn.close(CLOSE_TRY_AGAIN, "backend unavailable, try again")
                return
            time.sleep(0.5)
            continue
        except BackendRefused as refused:
            conn.push(error_frame(refused.code, refused.message))
            conn.close(CLOSE_TRY_AGAIN if refused.status >= 500 else 1008, "catch-up failed")
            return
        for event in page.events:
            pos = event.get("pos") if isinstance(event, dict) else None
            if isinstance(pos, int) and pos > cursor:
                if not conn.put(encode(event), timeout=CATCH_UP_PUSH_WAIT):
                    conn.close(CLOSE_TRY_AGAIN, "too slow, reconnect", abort=True)
                    return
                cursor = pos
        cursor = max(cursor, page.pos)
        if not page.more:
            break
    hub.finish_catch_up(conn, cursor)

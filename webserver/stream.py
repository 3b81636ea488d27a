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
from typing import Any

from common.feed import EVERYONE
from webserver.connection import CLOSE_TRY_AGAIN, Connection
from webserver.hub import Hub, encode
from webserver.relay import Backend, BackendUnavailable

log = logging.getLogger(__name__)

# Seconds the backend may hold a long-poll open. Under the 30 s that proxies and the backend's
# own limit allow, and long enough that an idle hub costs one request every 25 s.
LONG_POLL_WAIT = 25

# Seconds to wait for the long-poll's answer beyond WAIT: covers a busy backend writing the reply.
READ_MARGIN = 10

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

# Seconds between presence sweeps: offline transitions are announced at most this late.
SWEEP_EVERY = 1.0


class EventStream:
    """Feeds a :class:`Hub` from the backend; :meth:`start` is idempotent and cheap to call."""

    def __init__(self, hub: Hub, backend: Backend, *, wait: float = LONG_POLL_WAIT):
        self.hub = hub
        self.backend = backend
        self.wait = wait
        self._started = False
        self._start_lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._behind = False  # the last answer said more events wait: ask again without waiting

    def start(self) -> None:
        """Start the stream and the presence sweeper once, in the process that serves."""
        if self._started:
            return
        with self._start_lock:
            if self._started:
                return
            self._started = True
            for target, name in ((self._run, "chat-event-stream"), (self._sweep, "chat-presence")):
                thread = threading.Thread(target=target, name=name, daemon=True)
                thread.start()
                self._threads.append(thread)

    def stop(self, timeout: float | None = None) -> None:
        """Ask the loops to end; with ``timeout``, wait that long for them (they finish a poll first)."""
        self._stopping.set()
        if timeout is not None:
            for thread in self._threads:
                thread.join(timeout)

    def _run(self) -> None:
        pause = BACKOFF_FIRST
        while not self._stopping.is_set():
            try:
                if self.hub.ready.is_set():
                    self.poll_once()
                else:
                    self.load_rooms()
                pause = BACKOFF_FIRST
            except Exception as error:  # never let the one reader die: log, pause, go on
                if isinstance(error, BackendUnavailable | _BadAnswer):
                    log.warning("event stream: %s; retrying in %.1f s", error, pause)
                else:
                    log.exception("event stream failed; retrying in %.1f s", pause)
                self._stopping.wait(pause)
                pause = min(pause * 2, BACKOFF_MAX)

    def load_rooms(self) -> None:
        """Load the rooms snapshot the hub starts from."""
        answer = self.backend.request("GET", "/internal/rooms", timeout=5)
        body = answer.body
        if answer.status != 200 or not isinstance(body, dict) or not isinstance(body.get("pos"), int):
            raise _BadAnswer(f"/internal/rooms answered {answer.status}")
        self.hub.load(body.get("rooms") or [], body["pos"])

    def poll_once(self) -> int:
        """One long-poll: apply what it brings; returns how many events were new."""
        after = self.hub.pos
        answer = self.backend.request(
            "GET",
            "/internal/events",
            params={"after": after, "wait": 0 if self._behind else self.wait},
            timeout=self.wait + READ_MARGIN,
        )
        body = answer.body
        if answer.status != 200 or not isinstance(body, dict) or not isinstance(body.get("events"), list):
            raise _BadAnswer(f"/internal/events answered {answer.status}")
        events = sorted(
            (
                (item["event"], item["users"])
                for item in body["events"]
                if isinstance(item, dict)
                and isinstance(item.get("event"), dict)
                and isinstance(item["event"].get("pos"), int)
                and (isinstance(item.get("users"), list) or item.get("users") == EVERYONE)
            ),
            key=lambda pair: pair[0]["pos"],
        )
        applied = 0
        for event, users in events:
            if event["pos"] > self.hub.pos:
                self.hub.apply(event, users)
                applied += 1
        # Ask again at once only when this answer brought something: "more" with no events must
        # not turn the loop into a busy spin against the backend.
        self._behind = bool(body.get("more")) and bool(events)
        if isinstance(body.get("pos"), int) and body["pos"] < after:
            # The backend's log is behind the hub's: a different data directory. Nothing can be
            # matched up; say so loudly rather than silently showing nothing new.
            log.error("event stream: backend pos %s is behind the hub's %s", body["pos"], after)
            time.sleep(BACKOFF_MAX)
        return applied

    def _sweep(self) -> None:
        while not self._stopping.wait(SWEEP_EVERY):
            try:
                self.hub.sweep()
            except Exception:
                log.exception("presence sweep failed")


def catch_up(conn: Connection, hub: Hub, backend: Backend, after: int) -> None:
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
            answer = backend.request(
                "GET", "/api/events", token=conn.token, params={"after": cursor}, timeout=CATCH_UP_TIMEOUT
            )
        except BackendUnavailable:
            if time.monotonic() > deadline:
                conn.push(_error_frame(None))
                conn.close(CLOSE_TRY_AGAIN, "backend unavailable, try again")
                return
            time.sleep(0.5)
            continue
        body = answer.body
        if answer.status != 200 or not isinstance(body, dict) or not isinstance(body.get("events"), list):
            conn.push(_error_frame(body))
            conn.close(CLOSE_TRY_AGAIN if answer.status >= 500 else 1008, "catch-up failed")
            return
        for event in body["events"]:
            pos = event.get("pos") if isinstance(event, dict) else None
            if isinstance(pos, int) and pos > cursor:
                if not conn.put(encode(event), timeout=CATCH_UP_PUSH_WAIT):
                    conn.close(CLOSE_TRY_AGAIN, "too slow, reconnect", abort=True)
                    return
                cursor = pos
        if isinstance(body.get("pos"), int):
            cursor = max(cursor, body["pos"])
        if not body.get("more"):
            break
    hub.finish_catch_up(conn, cursor)


def _error_frame(body: Any) -> str:
    """An error frame with the backend's error from ``body``, else ``backend_unavailable``."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("code"), str):
        error = {"code": "backend_unavailable", "message": "The chat's storage is unavailable; try again."}
    message = str(error.get("message") or error["code"])
    return encode({"type": "error", "error": {"code": error["code"], "message": message}})


class _BadAnswer(Exception):
    """The backend answered, but not with what the stream needs."""

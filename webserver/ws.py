"""The ``/ws`` route: the handshake checks, then the chat's own serving of each open WebSocket.

The handshake is judged before the WebSocket is accepted (a ``before_request`` hook), so a
missing session is a real ``401`` and a foreign origin a real ``403``. Once flask-sock has
accepted it, :class:`WebSockets` takes the socket over from the HTTP server (:mod:`webserver.wire`)
and the request ends: the connection is registered with the hub (:mod:`webserver.hub`), replays
what it missed after ``after=POS``, and from then on is read when the client sends something
(:mod:`webserver.reader`), with each message handed to :mod:`webserver.frames`. A writer greenlet
drains its queue while it is in use (:mod:`webserver.connection`). Nothing here broadcasts a
message: broadcasts come only from the backend's event log (:mod:`webserver.stream`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g, request
from flask_sock import Sock

from common import limits
from common.errors import ApiError
from webserver import security, sessions
from webserver.admission import Admission
from webserver.backend_client import BackendClient
from webserver.concurrency import spawn
from webserver.connection import CLOSE_POLICY, CLOSE_TRY_AGAIN, Connection
from webserver.frame_rate import FrameMeter, Verdict
from webserver.frames import error_frame, on_frame, send_error
from webserver.hub import Hub
from webserver.reader import Keepalive, Reader
from webserver.stream import EventStream, catch_up
from webserver.wire import Wire

log = logging.getLogger(__name__)

# The contract's largest frame, in bytes (of UTF-8, for text); past it the reader closes with 1009.
MAX_FRAME_BYTES = limits.MAX_FRAME_BYTES

# Seconds between pings on an idle connection. Proxies and NATs commonly drop TCP flows idle for
# 60 s or more; 25 s keeps ours alive, and a peer that misses one ping's pong by the next one is
# dropped, so a vanished client holds its socket (and its presence) at most about 50 s.
PING_INTERVAL = 25

# Seconds a new connection waits for the hub's first rooms snapshot (the backend may be starting);
# past it the client is told to try again later.
READY_WAIT = 5.0


def init_app(app: Flask) -> None:
    """Add ``/ws`` and the hub (``app.extensions["chat.hub"]``) to the front server.

    With ``REDIS_URL`` the hub is joined to the other front servers (``chat.cluster``,
    :mod:`webserver.cluster`); without it nothing imports Redis.
    """
    redis_url = app.config.get("REDIS_URL")
    hub = Hub(session_ended=app.extensions["chat.sessions"].forget_digest, shared=bool(redis_url))
    stream = EventStream(hub, app.extensions["chat.backend"])
    app.extensions["chat.hub"] = hub
    app.extensions["chat.stream"] = stream
    admission = app.extensions["chat.admission"] = Admission(app.config["WS_PER_USER"])
    starts = [stream.start]
    if redis_url:
        from webserver.cluster import Cluster

        cluster = Cluster(hub, redis_url)
        app.extensions["chat.cluster"] = cluster
        starts.append(cluster.start)
    # flask-sock and simple-websocket do the handshake; the chat reads the socket (webserver.reader).
    app.config.setdefault("SOCK_SERVER_OPTIONS", {})["thread_class"] = _NoReaderThread
    app.config.setdefault("WS_PING_INTERVAL", PING_INTERVAL)
    app.config.setdefault("WS_COMPRESSION", False)
    websockets = app.extensions["chat.websockets"] = WebSockets(app)
    starts.append(websockets.keepalive.start)
    app.extensions["chat.starts"] = starts

    @app.before_request
    def _before() -> None:
        # Started on the first request at the latest (an app built in a test, not by gunicorn),
        # in the serving process, never at import or app build.
        start_background(current_app)
        if request.path == "/ws":
            _handshake()

    @app.teardown_request
    def _after(_error: BaseException | None) -> None:
        # A WebSocket's request ends as soon as the chat takes the socket over (WebSockets.serve,
        # which ends the admission when the connection ends), or when its handshake failed.
        if "ws_admitted" in g:
            admission.release(g.pop("ws_admitted"))

    Sock(app).route("/ws")(_serve)


def start_background(app: Flask) -> None:
    """Start the hub's reader of the backend's log (and the link to the other front servers, with
    Redis) in the process that serves; cheap and harmless to call again. ``MainWServer.py`` calls
    it as each worker starts, so a worker follows the log before its first client arrives."""
    for start in app.extensions["chat.starts"]:
        start()


def _handshake() -> None:
    """Judge the handshake before accepting it: origin rule (403), session (401), ``after`` (422),
    then the user's count of WebSockets (429) and this process's open files (503)."""
    if not security.origin_allowed(request):
        raise ApiError(403, "forbidden", "This WebSocket comes from another site's page.")
    token = sessions.token_from(request)
    session = current_app.extensions["chat.sessions"].session_for(token)
    if session is None:
        raise ApiError(401, "unauthenticated", "Sign in first: the WebSocket needs the session cookie.")
    user = session.user
    after = request.args.get("after")
    if after is not None:
        # ASCII digits only: str.isdigit() also accepts "²", which int() then refuses.
        if not (after.isascii() and after.isdigit()) or len(after) > 18:
            raise ApiError(422, "validation_error", "after must be a non-negative integer.")
        after = int(after)
    current_app.extensions["chat.admission"].admit(user["username"])
    g.ws_admitted = user["username"]
    g.ws = (token, user, after, session.expires)
    if not current_app.config["WS_COMPRESSION"]:
        # Without the client's offer simple-websocket negotiates no permessage-deflate; see
        # docs/realtime.md for the measurement behind leaving it off.
        request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)


class _NoReaderThread:
    """What simple-websocket starts as its reader of the socket: nothing, since the chat reads the
    socket itself (:mod:`webserver.reader`). simple-websocket asks of its ``thread_class`` only a
    ``name`` and ``start()``; a reader of its own would take the chat's frames."""

    name = "simple_websocket.Base._thread"

    def __init__(self, target: Callable[[], Any]):
        del target  # simple-websocket's reader loop, which never runs here

    def start(self) -> None:
        """Start nothing: :class:`webserver.reader.Reader` reads the socket."""


class WebSockets:
    """What every open WebSocket of the app shares, and what becomes of its messages and its end.

    The handler (:class:`webserver.reader.Handler`) of every :class:`Reader`: one object for all
    connections, so a connection holds no closures of its own.
    """

    def __init__(self, app: Flask):
        self.hub: Hub = app.extensions["chat.hub"]
        self.backend: BackendClient = app.extensions["chat.backend"]
        self.admission: Admission = app.extensions["chat.admission"]
        self.keepalive = Keepalive(app.config["WS_PING_INTERVAL"])
        self.rate: int = app.config["WS_FRAME_RATE"]

    def serve(self, ws: Any, token: str, user: dict[str, Any], after: int | None, expires: float) -> None:
        """Take the socket of a WebSocket just accepted (its request then ends), register it with the
        hub, replay what it missed after ``after``, and read it from then on. Its user's admission
        (counted at the handshake) now ends with the connection, in :meth:`ended`."""
        wire = Wire.take_over(ws)
        g.pop("ws_admitted")  # from here on the connection's end, not the request's, ends it
        conn = Connection(user["username"], token, abort=wire.shutdown)
        # The writer exists only while the connection is in use (webserver.connection): a raw
        # greenlet, the cheapest gevent has, started at the next turn of the loop, so a burst goes
        # in one write.
        conn.attach(wire.send, wire.close, spawn, wire.send_now)
        meter = FrameMeter(self.rate) if self.rate else None
        reader = Reader(wire, conn, self, max_bytes=MAX_FRAME_BYTES, meter=meter)
        try:
            self.hub.register(conn, user, after, expires=expires)
            if after is not None:
                catch_up(conn, self.hub, self.backend, after)
        except BaseException:
            self.ended(reader)
            raise
        self.keepalive.add(reader)
        reader.start()

    def message(self, reader: Reader, data: str | bytes) -> None:
        """One message from the client: counted against the frame rate, then acted on."""
        conn = reader.conn
        verdict = reader.meter.count() if reader.meter else Verdict.SERVE
        if verdict is Verdict.CLOSE:
            conn.close(CLOSE_POLICY, "too many frames")
            return
        if verdict is Verdict.WARN:
            message = f"More than {self.rate} frames a second: these are dropped, and the socket closes soon."
            conn.push(error_frame("rate_limited", message, retry_after=1))
        if verdict is Verdict.SERVE:
            try:
                on_frame(data, conn, self.hub, self.backend)
            except Exception:  # a bug must cost one frame, not the connection or the worker
                log.exception("handling a WebSocket frame failed")
                send_error(conn, "internal_error")

    def ended(self, reader: Reader) -> None:
        """The connection is over: forget it, let its writer send what is queued and the close
        (for 2 s at most), then close the socket and end the user's admission."""
        conn = reader.conn
        self.keepalive.remove(reader)
        self.hub.unregister(conn)
        conn.close()
        conn.wait_written(timeout=2)
        reader.wire.release()
        self.admission.release(conn.user)


def _serve(ws: Any) -> None:
    """The route of one WebSocket, its handshake answered by flask-sock: hand it to the chat's
    :class:`WebSockets`, which keeps it open after the request ends."""
    token, user, after, expires = g.ws
    if not current_app.extensions["chat.hub"].ready.wait(READY_WAIT):
        ws.close(CLOSE_TRY_AGAIN, "backend unavailable, try again")
        return
    current_app.extensions["chat.websockets"].serve(ws, token, user, after, expires)

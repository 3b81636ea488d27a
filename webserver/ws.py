"""The ``/ws`` route: the handshake checks, the catch-up after ``after=POS``, and incoming frames.

The handshake is judged before the WebSocket is accepted (a ``before_request`` hook), so a
missing session is a real ``401`` and a foreign origin a real ``403``. Once accepted, the
connection is registered with the hub (:mod:`webserver.hub`), a writer greenlet drains its queue
while the connection is in use, and this route reads the socket itself (:mod:`webserver.reader`)
and hands each message to :mod:`webserver.frames`. Nothing here broadcasts a message: broadcasts
come only from the backend's event log (:mod:`webserver.stream`).
"""

from __future__ import annotations

import functools
import logging
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

import gevent
from flask import Flask, current_app, g, request
from flask_sock import Sock
from gevent import monkey
from simple_websocket import ConnectionClosed

from common import limits
from common.errors import ApiError
from webserver import security, sessions
from webserver.admission import Admission
from webserver.backend_client import BackendClient
from webserver.connection import CLOSE_POLICY, CLOSE_TRY_AGAIN, Connection
from webserver.frame_rate import FrameMeter, Verdict
from webserver.frames import error_frame, on_frame, send_error
from webserver.hub import Hub
from webserver.reader import messages
from webserver.stream import EventStream, catch_up

log = logging.getLogger(__name__)

# The contract's largest frame, in bytes (of UTF-8, for text); past it the reader closes with 1009.
MAX_FRAME_BYTES = limits.MAX_FRAME_BYTES

# Distinct frames whose wire bytes are kept: enough for the broadcasts in flight to every queue.
FRAME_CACHE = 1024

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
    app.extensions["chat.starts"] = starts
    # flask-sock and simple-websocket do the handshake; the route reads the socket (webserver.reader).
    app.config.setdefault("SOCK_SERVER_OPTIONS", {})["thread_class"] = _ReadInRoute
    app.config.setdefault("WS_PING_INTERVAL", PING_INTERVAL)
    app.config.setdefault("WS_COMPRESSION", False)

    @app.before_request
    def _before() -> None:
        # Started on the first request at the latest (an app built in a test, not by gunicorn),
        # in the serving process, never at import or app build.
        start_background(current_app)
        if request.path == "/ws":
            _handshake()

    @app.teardown_request
    def _after(_error: BaseException | None) -> None:
        # The request of a WebSocket ends when the socket closes (or its handshake failed).
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
    environ = request.environ
    if not current_app.config["WS_COMPRESSION"]:
        # Without the client's offer simple-websocket negotiates no permessage-deflate; see
        # docs/realtime.md for the measurement behind leaving it off.
        environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
    for key in ("gunicorn.socket", "werkzeug.socket"):
        if key in environ:
            environ[key] = _WholeWrites(environ[key])


def _spawn(writer: Callable[[], None]) -> None:
    """Run a connection's writer apart: a raw greenlet under gevent (the front server), else a thread."""
    if monkey.is_module_patched("threading"):
        gevent.spawn_raw(writer)
    else:
        threading.Thread(target=writer, daemon=True).start()


class _ReadInRoute:
    """What simple-websocket starts as its reader of the socket: nothing, since the route reads
    the socket itself (:mod:`webserver.reader`). simple-websocket asks of its ``thread_class``
    only a ``name`` and ``start()``; a reader of its own would take the route's frames."""

    name = "simple_websocket.Base._thread"

    def __init__(self, target: Callable[[], Any]):
        del target  # simple-websocket's reader loop, which never runs here

    def start(self) -> None:
        """Start nothing: :func:`webserver.reader.messages` reads in the route's greenlet."""


class _WholeWrites:
    """The client socket with every write made whole and one at a time.

    The socket is written from two places (the connection's writer, and the reader in the route
    for pings, pongs and the answer to a close), through simple-websocket and wsproto with a bare
    ``send()``, which may write part of a frame when the kernel buffer is nearly full. ``sendall``
    under one lock keeps every frame whole and apart.
    """

    def __init__(self, sock: socket.socket):
        self._sock = sock
        self._lock = threading.Lock()
        # What send_now writes without waiting: the OS socket below gevent's, or a plain socket
        # itself (the threaded server of the unit tests). Any other kind (a TLS socket, whose
        # bytes must go through its encryption) has none, and all its writes go through send.
        self._raw = getattr(sock, "_sock", sock) if type(sock) is socket.socket else None

    def send(self, data: bytes) -> int:
        """Write all of ``data`` before any other write; returns its length, as ``send`` would.

        One ``send`` first: a burst of frames nearly always fits the kernel's buffer, and gevent's
        ``sendall`` asks the socket for its buffer size (a system call) on every write, which was
        a sixth of this process's time in the crowd benchmark (docs/benchmark.md). What did not
        fit goes by ``sendall``.
        """
        with self._lock:
            sent = self._sock.send(data)
            if sent < len(data):
                self._sock.sendall(memoryview(data)[sent:])
        return len(data)

    def send_now(self, data: bytes) -> int:
        """Write what the kernel takes of ``data`` at once, without waiting, and only while no
        other write is under way; returns how many bytes went (0 when none could)."""
        if self._raw is None or not self._lock.acquire(blocking=False):
            return 0
        try:
            return self._raw.send(data, socket.MSG_DONTWAIT)
        except OSError:  # the buffer is full, or the peer is gone: the writer finds out which
            return 0
        finally:
            self._lock.release()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _serve(ws: Any) -> None:
    """One WebSocket, from hello to close."""
    token, user, after, expires = g.ws
    hub: Hub = current_app.extensions["chat.hub"]
    backend: BackendClient = current_app.extensions["chat.backend"]
    if not hub.ready.wait(READY_WAIT):
        ws.close(CLOSE_TRY_AGAIN, "backend unavailable, try again")
        return
    # The handshake is done: simple-websocket's protocol object is left with the open connection
    # alone (wsproto's, with the same send, receive_data and events), and the handshake's HTTP
    # parser and buffers, about 3 KiB, go.
    ws.ws = ws.ws.connection
    conn = Connection(user["username"], token, abort=lambda: _shutdown(ws.sock))
    # The writer exists only while the connection is in use (webserver.connection): a raw greenlet,
    # the cheapest gevent has, started at the next turn of the loop, so a burst goes in one write.
    conn.attach(_batch_sender(ws), _closer(ws), _spawn, _sender_now(ws))
    hub.register(conn, user, after, expires=expires)
    rate = current_app.config["WS_FRAME_RATE"]
    meter = FrameMeter(rate) if rate else None
    ping_interval = current_app.config["WS_PING_INTERVAL"]
    try:
        if after is not None:
            catch_up(conn, hub, backend, after)
        # Waits on the socket until a whole message comes or the connection ends (the writer's
        # close wakes it): an idle connection is this one greenlet, and no polling, which 10,000
        # sockets could not afford.
        for data in messages(ws, conn, ping_interval=ping_interval, max_bytes=MAX_FRAME_BYTES):
            verdict = meter.count() if meter else Verdict.SERVE
            if verdict is Verdict.CLOSE:
                conn.close(CLOSE_POLICY, "too many frames")
                break
            if verdict is Verdict.WARN:
                message = f"More than {rate} frames a second: these are dropped, and the socket closes soon."
                conn.push(error_frame("rate_limited", message, retry_after=1))
            if verdict is not Verdict.SERVE:
                continue
            try:
                on_frame(data, conn, hub, backend)
            except Exception:  # a bug must cost one frame, not the connection or the worker
                log.exception("handling a WebSocket frame failed")
                send_error(conn, "internal_error")
    finally:
        hub.unregister(conn)
        conn.close()
        conn.wait_written(timeout=2)


def _batch_sender(ws: Any) -> Callable[[list[str]], None]:
    """Write several text frames in one socket write.

    Only the connection's one writer calls this. Frames are built by :func:`text_frame`, once per
    distinct frame: a broadcast hands the same ``str`` to every recipient, so a room of a thousand
    costs one framing, not a thousand.
    """

    def send(frames: list[str | bytes]) -> None:
        if not ws.connected:
            raise ConnectionClosed(ws.close_reason, ws.close_message)
        ws.sock.send(b"".join([frame if type(frame) is bytes else text_frame(frame) for frame in frames]))

    return send


def _sender_now(ws: Any) -> Callable[[str], bytes | None]:
    """Write one text frame at once if the socket takes it without waiting (see
    :meth:`webserver.connection.Connection.attach`): None when all of it went, else the framed
    bytes still to write. In a room of a thousand, a broadcast is then a thousand ``send`` calls
    in the loop that applies it, with no writer greenlet woken for each connection."""

    def send_now(frame: str) -> bytes | None:
        data = text_frame(frame)
        sent = ws.sock.send_now(data) if ws.connected else 0
        return None if sent == len(data) else data[sent:] if sent else data

    return send_now


@functools.lru_cache(maxsize=FRAME_CACHE)
def text_frame(text: str) -> bytes:
    """One complete, unmasked, uncompressed WebSocket text frame (RFC 6455, 5.2) holding ``text``.

    Built here rather than by the protocol object because it is the same bytes for every recipient
    (a server never masks) and the protocol object keeps no state across whole messages; its own
    frames (pings, pongs, the close) are whole frames too, so the two never interleave inside one.
    """
    payload = text.encode("utf-8")
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


def _closer(ws: Any) -> Callable[[int, str], None]:
    """Send the close frame, then shut the socket's reading down, which wakes the route waiting
    on it (:func:`webserver.reader.messages`) so that it ends: the client's answer to the close
    need not be waited for."""

    def close(code: int, reason: str) -> None:
        try:
            ws.close(code, reason)
        finally:
            _shutdown(ws.sock, socket.SHUT_RD)

    return close


def _shutdown(sock: Any, how: int = socket.SHUT_RDWR) -> None:
    """Shut the socket down (both ways by default: a stuck client's, so a writer blocked on it
    wakes up)."""
    try:
        sock.shutdown(how)
    except OSError:
        pass

"""One WebSocket's read loop, run in the ``/ws`` route's own greenlet: whole messages in, pings out.

flask-sock and simple-websocket do the handshake (:mod:`webserver.ws`); simple-websocket would then
read the socket in a greenlet of its own and hand messages to the route through a buffer and an
event, so every idle connection held two parked greenlets. :func:`messages` reads the socket
where the route runs instead, through the wsproto connection simple-websocket made, and yields
each message as soon as it is whole: an idle connection is one greenlet waiting on its socket.

It also does what simple-websocket's reader did: it answers pings, pings the client every
``ping_interval`` seconds and drops it when a ping is still unanswered at the next one, closes
with 1009 a message over ``max_bytes`` (counted in UTF-8 bytes for text), and answers the
client's close. Frames it writes itself (pongs, pings, the answer to a close) are whole frames
through the socket's one lock, so they never interleave with the connection's writer
(:mod:`webserver.connection`), which sends everything else, the close frames this side decides
included. Works the same on a real thread (a test server): the wait is gevent's, which runs in
any thread. No Flask import.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import gevent.socket
from simple_websocket import ConnectionClosed
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.utilities import LocalProtocolError

from webserver.connection import CLOSE_POLICY, Connection

CLOSE_TOO_BIG = 1009

# Bytes asked of the socket at a time (simple-websocket's default): a chat frame is a few hundred
# bytes, and a frame of 64 KiB is read in 16 reads.
RECEIVE_BYTES = 4096


def messages(ws: Any, conn: Connection, *, ping_interval: float, max_bytes: int) -> Iterator[str | bytes]:
    """Yield each message the client sends (``str`` for text, ``bytes`` for binary) until the
    connection ends: the client closes or goes away, a message is too big, a ping goes
    unanswered, or the connection is closed from this side (its writer shuts the socket's reading
    down, which wakes the wait here). A close this loop decides is asked of ``conn``, whose writer
    sends the queue first and the close frame last.
    """
    sock, proto = ws.sock, ws.ws
    fileno = sock.fileno()
    next_ping = time.monotonic() + ping_interval
    unanswered = False  # a ping is waiting for its pong
    parts: list[Any] = []  # the frames of a message still coming in
    size = 0
    while ws.connected and not conn.closed:
        now = time.monotonic()
        if now >= next_ping or not _readable(fileno, next_ping - now):
            if unanswered:
                conn.close(CLOSE_POLICY, "no answer to ping")
                return
            if not _write(sock, proto, Ping()):
                return
            unanswered = True
            next_ping = max(now, next_ping) + ping_interval
            continue
        try:
            data = sock.recv(RECEIVE_BYTES)
        except OSError:  # reset by the peer, or reading shut down by this side's close
            return
        if not data:  # the peer went away without a close frame
            return
        proto.receive_data(data)
        for event in proto.events():
            if isinstance(event, (TextMessage, BytesMessage)):
                chunk = event.data
                size += len(chunk) if isinstance(chunk, bytes) or chunk.isascii() else len(chunk.encode())
                if size > max_bytes:
                    conn.close(CLOSE_TOO_BIG, f"frame over {max_bytes // 1024} KiB")
                    return
                parts.append(chunk)
                if event.message_finished:
                    message = parts[0] if len(parts) == 1 else type(chunk)().join(parts)
                    parts, size = [], 0
                    yield message
            elif isinstance(event, Ping):
                if not _write(sock, proto, event.response()):
                    return
            elif isinstance(event, Pong):
                unanswered = False
            elif isinstance(event, CloseConnection):
                # The client's close, or wsproto's for a frame that broke the protocol (1002, 1007):
                # answered at once with its code, as RFC 6455 asks; the writer then finds the
                # socket closed and sends nothing more.
                with contextlib.suppress(ConnectionClosed, OSError):
                    ws.close(event.code, event.reason)
                return


def _readable(fileno: int, timeout: float) -> bool:
    """Whether the socket has something to read (data, its end, or an error) within ``timeout``."""
    try:
        gevent.socket.wait_read(fileno, timeout=timeout)
    except TimeoutError:
        return False
    return True


def _write(sock: Any, proto: Any, event: Any) -> bool:
    """Send one control frame at once; False when the connection can no longer take it."""
    try:
        sock.send(proto.send(event))
    except (OSError, LocalProtocolError):
        return False
    return True

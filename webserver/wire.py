"""A WebSocket's socket once its handshake is done, owned by the chat rather than the HTTP server.

flask-sock and simple-websocket answer the handshake inside a request of the HTTP server
(gunicorn's, or werkzeug's in some tests). :meth:`Wire.take_over` then takes the socket's
descriptor out of the server's hands and the request ends: none of the request's objects (the
server's parser, Flask's request and app contexts, the route's greenlet and its frames) stays
alive for the socket's life, and the garbage collector has that much less to walk for every open
WebSocket (docs/benchmark.md, "What each open WebSocket costs the collector").

Every write goes through the one lock of :class:`Wire` and leaves whole: the connection's writer
(:mod:`webserver.connection`) and a close decided here never cut into each other's frames. After
this side's close frame the socket stays open for the client's answer, which its reader waits for
(:mod:`webserver.reader`), and is shut down if none comes within :data:`CLOSE_TIMEOUT` seconds. No
Flask import.
"""

from __future__ import annotations

import functools
import socket
import struct
import threading
from collections.abc import Callable
from typing import Any

from wsproto.connection import ConnectionState
from wsproto.events import CloseConnection
from wsproto.utilities import LocalProtocolError

from webserver.concurrency import call_later

# Distinct frames whose wire bytes are kept: enough for the broadcasts in flight to every queue.
FRAME_CACHE = 1024

# Seconds the client has to answer this side's close before the socket is shut down. A browser
# answers within a round trip; a client that never does holds its connection this long at most.
CLOSE_TIMEOUT = 2.0

# Opcodes of RFC 6455, 5.2.
TEXT, PING, PONG = 0x1, 0x9, 0xA


class Wire:
    """The socket of one open WebSocket and its wsproto connection (for control frames and the
    close); frames are built here (:func:`text_frame`) and written whole, one write at a time."""

    __slots__ = ("sock", "proto", "connected", "_lock", "_raw", "_cancel_cut")

    def __init__(self, sock: socket.socket, proto: Any):
        self.sock = sock
        self.proto = proto
        self.connected = True
        self._lock = threading.Lock()
        # What send_now writes without waiting: the OS socket below gevent's, or a plain socket.
        self._raw = getattr(sock, "_sock", sock)
        self._cancel_cut: Callable[[], None] | None = None  # while the close waits for its answer

    @classmethod
    def take_over(cls, ws: Any) -> Wire:
        """The socket of simple-websocket's ``ws``, its handshake answered, as a :class:`Wire`.

        The HTTP server's socket object lets go of the descriptor (it closes nothing once the
        request ends), and ``ws`` is marked closed, so the close flask-sock sends after the route
        returns sends nothing. Only a plain TCP socket can be taken over: a TLS socket's state
        stays with the object that holds it (TLS ends at the proxy in front, docs/deployment.md).
        """
        server_socket = ws.sock
        if type(server_socket) is not socket.socket:
            raise TypeError(f"cannot take over a {type(server_socket).__name__}; only a plain socket")
        ws.connected = False
        return cls(socket.socket(fileno=server_socket.detach()), ws.ws.connection)

    def send(self, frames: list[str | bytes]) -> None:
        """Write several frames in one socket write (the connection's writer alone calls this).

        A ``str`` is a text frame's payload, framed once per distinct text (:func:`text_frame`): a
        broadcast hands the same ``str`` to every recipient, so a room of a thousand costs one
        framing, not a thousand. ``bytes`` are a whole frame already (a control frame, or the
        rest of one that went out in part). Raises ``ConnectionError`` once the wire is closed:
        nothing follows the close frame.
        """
        data = b"".join([frame if type(frame) is bytes else text_frame(frame) for frame in frames])
        with self._lock:
            if not self.connected:
                raise ConnectionError("the WebSocket is closed")
            self._write_whole(data)

    def send_now(self, frame: str | bytes) -> bytes | None:
        """Write one frame at once if the socket takes it without waiting (see
        :meth:`webserver.connection.Connection.attach`): None when all of it went, else the framed
        bytes still to write. In a room of a thousand, a broadcast is then a thousand ``send``
        calls in the loop that applies it, with no writer greenlet woken for each connection.

        Only while no other write is under way (a frame is never cut into), and never after the
        close frame.
        """
        data = frame if type(frame) is bytes else text_frame(frame)
        sent = 0
        if self._lock.acquire(blocking=False):
            try:
                if self.connected:
                    sent = self._raw.send(data, socket.MSG_DONTWAIT)
            except OSError:  # the buffer is full, or the peer is gone: the writer finds out which
                pass
            finally:
                self._lock.release()
        return None if sent == len(data) else data[sent:] if sent else data

    def close(self, code: int, reason: str) -> None:
        """Send the close frame, unless it was sent already; nothing is sent after it. A close of
        this side's keeps the socket open for the client's answer, and shuts it down (which ends
        the reader) if none has come when :data:`CLOSE_TIMEOUT` has passed and the wire is not yet
        released; an answer to the client's close waits for nothing."""
        with self._lock:
            if not self.connected:
                return
            self.connected = False
            try:
                self._write_whole(self.proto.send(CloseConnection(code, reason)))
            except (OSError, LocalProtocolError):  # the peer is gone, or its close ended the protocol
                return
            if self.proto.state is ConnectionState.LOCAL_CLOSING:  # not the answer to the client's
                self._cancel_cut = call_later(CLOSE_TIMEOUT, self.shutdown)

    def _write_whole(self, data: bytes) -> None:
        """(Lock held.) Write all of ``data``.

        One ``send`` first: a burst of frames nearly always fits the kernel's buffer, and gevent's
        ``sendall`` asks the socket for its buffer size (a system call) on every write, which was
        a sixth of this process's time in the crowd benchmark (docs/benchmark.md). What did not
        fit goes by ``sendall``.
        """
        sent = self.sock.send(data)
        if sent < len(data):
            self.sock.sendall(memoryview(data)[sent:])

    def shutdown(self) -> None:
        """Shut the socket down both ways: a writer blocked on a client that reads nothing wakes
        up, and so does the reader."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def release(self) -> None:
        """Close the socket for good (the connection is over)."""
        with self._lock:
            self.connected = False
            cancel_cut, self._cancel_cut = self._cancel_cut, None
        if cancel_cut is not None:
            cancel_cut()
        self.sock.close()


def control_frame(opcode: int, payload: bytes = b"") -> bytes:
    """A whole ping or pong frame from this side (unmasked, as a server's are); a control frame's
    payload is at most 125 bytes (RFC 6455, 5.5), which the parser of incoming frames enforces."""
    return struct.pack("!BB", 0x80 | opcode, len(payload)) + payload


@functools.lru_cache(maxsize=FRAME_CACHE)
def text_frame(text: str) -> bytes:
    """One complete, unmasked, uncompressed WebSocket text frame (RFC 6455, 5.2) holding ``text``.

    Built here rather than by the protocol object because it is the same bytes for every recipient
    (a server never masks) and the protocol object keeps no state across whole messages; the other
    frames (pings, pongs, the close) are whole frames too, so the two never interleave inside one.
    """
    payload = text.encode("utf-8")
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | TEXT, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x80 | TEXT, 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | TEXT, 127, size)
    return header + payload

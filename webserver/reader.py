"""One WebSocket's incoming side: read when the socket has something, with nothing parked meanwhile.

An open WebSocket is mostly idle, and ten thousand of them are all alive at once. Under gevent a
:class:`Reader` therefore holds no greenlet while it waits: it asks the event loop to call it when
its socket becomes readable (a libev ``io`` watcher), and only then runs a greenlet that reads
once, answers what came, hands each whole message on and asks again. A greenlet parked per
connection, with its stack of frames and their locals, was the largest part of what every full
garbage collection walked (docs/benchmark.md). Outside gevent (a threaded test server) a thread
per connection does the same reads in a loop.

The reader answers the client's pings, notes its pongs, closes with 1009 a message over
``max_bytes`` (counted in UTF-8 bytes for text) and answers the client's close. Pings of this side
come from :class:`Keepalive`, one loop for every connection. Frames it writes go through the
connection's queue (:mod:`webserver.connection`), the close answer through the wire's lock
(:mod:`webserver.wire`), so none interleaves with another.

When this side closes, the reader reads on until the client answers the close (RFC 6455, 7.1.1),
dropping what the client sent meanwhile, and for ``wire.CLOSE_TIMEOUT`` seconds at most. A socket
closed with bytes it has not read is reset (an RST, not a FIN), and a client still sending, as a
flooding one is, can take that reset before it has read the close frame: it then sees 1006, not
the code it was given. No Flask import.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

import gevent
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage

from webserver.concurrency import spawn, under_gevent
from webserver.connection import CLOSE_POLICY, CLOSE_TRY_AGAIN, Connection
from webserver.loops import Loops
from webserver.wire import PING, PONG, Wire, control_frame

CLOSE_TOO_BIG = 1009

log = logging.getLogger(__name__)

# Bytes asked of the socket at a time (simple-websocket's default): a chat frame is a few hundred
# bytes, and a frame of 64 KiB is read in 16 reads.
RECEIVE_BYTES = 4096

# Slots of the keepalive's wheel: each turn pings one slot's connections, so a ping interval of
# 25 s pings a twenty-fifth of them every second rather than all at once.
KEEPALIVE_SLOTS = 25

_PING = control_frame(PING)


class Handler(Protocol):
    """What a reader hands its connection's messages to, and tells of its end."""

    def message(self, reader: Reader, data: str | bytes) -> None:
        """Act on one whole message (none comes once the connection is closing)."""

    def ended(self, reader: Reader) -> None:
        """The connection is over: the reader reads no more."""


class Reader:
    """Reads one WebSocket's frames as they come (see the module's doc); :meth:`start` begins."""

    # Ten thousand idle connections each hold one: slots keep it to its fields.
    __slots__ = (
        "wire", "conn", "meter", "unanswered", "_handler", "_max_bytes", "_parts", "_size", "_watcher",
    )  # fmt: skip

    def __init__(self, wire: Wire, conn: Connection, handler: Handler, *, max_bytes: int, meter: Any = None):
        self.wire = wire
        self.conn = conn
        self.meter = meter  # the connection's frame meter, for the handler (None: no rate limit)
        self.unanswered = False  # a ping of this side waits for its pong
        self._handler = handler
        self._max_bytes = max_bytes
        self._parts: list[str | bytes] | None = None  # the frames of a message still coming in
        self._size = 0
        self._watcher: Any = None

    def start(self) -> None:
        """Read from now on, until the connection ends (then the handler's ``ended`` runs)."""
        if under_gevent():
            self._watcher = gevent.get_hub().loop.io(self.wire.sock.fileno(), 1)
            self._watcher.start(self._readable)
        else:
            spawn(self._read_in_thread)

    def ping(self) -> None:
        """The keepalive's turn: ping the client, or close the connection when the last ping is
        still unanswered. A connection still open a turn after it was closed has a writer waiting
        on a client that reads nothing: its socket is shut down, which ends both."""
        if not self.unanswered:
            self.unanswered = True
            if not self.conn.closed:
                self.conn.push(_PING)
        elif self.conn.closed:
            self.wire.shutdown()
        else:
            self.conn.close(CLOSE_POLICY, "no answer to ping")

    def read_once(self) -> bool:
        """Read what the socket holds (one ``recv``) and act on every frame it completes; False once
        the connection is over: the client closed, answered this side's close or went away, or
        the socket was shut down. Once this side has closed, messages are dropped unread."""
        wire, conn = self.wire, self.conn
        try:
            data = wire.sock.recv(RECEIVE_BYTES)
        except OSError:  # reset by the peer, or shut down by this side
            return False
        if not data:  # the peer went away, or this side shut the socket down
            return False
        proto = wire.proto
        proto.receive_data(data)
        for event in proto.events():
            if isinstance(event, (TextMessage, BytesMessage)):
                if conn.closed:
                    continue
                chunk = event.data
                ascii_or_bytes = isinstance(chunk, bytes) or chunk.isascii()
                self._size += len(chunk) if ascii_or_bytes else len(chunk.encode())
                if self._size > self._max_bytes:
                    self._parts, self._size = None, 0
                    conn.close(CLOSE_TOO_BIG, f"frame over {self._max_bytes // 1024} KiB")
                    continue
                if not event.message_finished:
                    if self._parts is None:
                        self._parts = []
                    self._parts.append(chunk)
                    continue
                parts, self._parts, self._size = self._parts, None, 0
                self._handler.message(self, type(chunk)().join([*parts, chunk]) if parts else chunk)
            elif isinstance(event, Ping):
                conn.push(control_frame(PONG, event.payload))
            elif isinstance(event, Pong):
                self.unanswered = False
            elif isinstance(event, CloseConnection):
                # The client's close, or wsproto's for a frame that broke the protocol (1002, 1007):
                # answered at once with its code, as RFC 6455 asks; the writer then finds the
                # wire closed and sends nothing more. Or the client's answer to this side's
                # close, which the wire, closed already, does not answer.
                wire.close(event.code, event.reason)
                return False
        return True

    def _readable(self) -> None:
        # Called by the event loop itself, where nothing may wait: the reading and whatever the
        # messages lead to (a call to the backend) run in a greenlet of their own.
        self._watcher.stop()
        spawn(self._read_in_greenlet)

    def _read_in_greenlet(self) -> None:
        if self._read_safely():
            self._watcher.start(self._readable)
            return
        self._watcher.close()  # drops its callback: no reference back to this reader is left
        self._watcher = None
        self._handler.ended(self)

    def _read_in_thread(self) -> None:
        while self._read_safely():
            pass
        self._handler.ended(self)

    def _read_safely(self) -> bool:
        """:meth:`read_once`, with a bug in it ending this connection (and its bookkeeping), not
        leaving it open and forgotten."""
        try:
            return self.read_once()
        except Exception:
            log.exception("reading a WebSocket failed")
            # 1013, as for any trouble on this side: the client reconnects with after= and
            # misses nothing.
            self.conn.close(CLOSE_TRY_AGAIN, "internal error, try again")
            return False


class Keepalive:
    """Pings every open WebSocket once per ``interval`` from one loop, and has a connection closed
    when its last ping is still unanswered at the next (see :meth:`Reader.ping`).

    Proxies and NATs commonly drop TCP flows idle for 60 s or more; a ping keeps the flow alive,
    and a peer that vanished is found out within two intervals. The readers sit on a wheel of
    :data:`KEEPALIVE_SLOTS` slots; each turn, ``interval / KEEPALIVE_SLOTS`` seconds apart, pings
    one slot. A reader joins the slot just pinged, so its first ping comes one interval after it
    opened.
    """

    def __init__(self, interval: float):
        self.interval = interval
        self._slots: list[set[Reader]] = [set() for _ in range(KEEPALIVE_SLOTS)]
        self._slot_of: dict[Reader, int] = {}
        self._turn = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._loops = Loops((self._run, "chat-keepalive"))

    def add(self, reader: Reader) -> None:
        """Ping ``reader`` from one interval on."""
        with self._lock:
            slot = (self._turn - 1) % KEEPALIVE_SLOTS
            self._slots[slot].add(reader)
            self._slot_of[reader] = slot

    def remove(self, reader: Reader) -> None:
        """Ping ``reader`` no more."""
        with self._lock:
            slot = self._slot_of.pop(reader, None)
            if slot is not None:
                self._slots[slot].discard(reader)

    def turn(self) -> int:
        """Ping the next slot's readers; returns how many."""
        with self._lock:
            readers = list(self._slots[self._turn])
            self._turn = (self._turn + 1) % KEEPALIVE_SLOTS
        for reader in readers:
            reader.ping()
        return len(readers)

    def start(self) -> None:
        """Start the loop once (a daemon thread; a greenlet under gevent); cheap to call again."""
        self._loops.start()

    def stop(self) -> None:
        """End the loop (an app built in a test)."""
        self._stopping.set()

    def _run(self) -> None:
        while not self._stopping.wait(self.interval / KEEPALIVE_SLOTS):
            self.turn()

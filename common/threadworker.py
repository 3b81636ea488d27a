"""gunicorn's gthread worker, with a thread per request only once its head has arrived whole, and
a kept-alive connection's next request served by the thread that answered the last one.

Heads first. The stock worker hands a connection to a thread as soon as its first bytes arrive,
and the thread then blocks until the request line and headers are complete: a client that sends
half a request and stops holds that thread for as long as it keeps the socket open, and a few
dozen such sockets hold all of them (``/healthz`` included). Here the worker's own loop reads what
has arrived (without blocking) until the head is complete, and only then submits the connection
to the thread pool, with those bytes put back in front of the parser. A connection whose head is
not complete :data:`HEAD_TIMEOUT` seconds after it started is closed, without ever having held a
thread.

The next request in the same thread. The backend's clients are front servers, each with a pool
of kept-alive connections that carry one request after another. The stock worker returns a
connection to its loop after every answer: the loop's thread wakes for the next request, then
hands it to a pool thread, and the pool thread hands the connection back when it has answered,
each step a thread woken and the GIL passed. Here the thread that answered waits up to
:data:`LINGER` seconds for the connection's next request and serves it itself: one wake-up per
request instead of three. Waiting threads never keep a request from a thread: they wait on the
connection and on the worker's *crowded* signal together, which the loop raises as soon as every
thread of the pool is taken (long-polls hold threads too); each waiting thread then returns its
connection to the loop at once, and the loop lowers the signal once a quarter of the pool is free
again. Only a complete head is served in the thread; a partial one goes back to the loop, which
waits for the rest as for any head.

Used by ``common.serve`` for the backend (``worker_class="gthread"``).
"""

from __future__ import annotations

import os
import select
import selectors
import socket
import time
from functools import partial
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

from common import onesend

# Seconds a request's head (request line and headers) may take to arrive, from the connection's
# first wait for it. The front server sends each head in one write.
HEAD_TIMEOUT = 10.0
_HEAD_END = b"\r\n\r\n"
# More than this without the end of the head: handed to the parser, which refuses it (431).
_HEAD_MAX = 128 * 1024

# Seconds a thread that answered a kept-alive connection waits for its next request before it
# returns the connection to the loop. A front server sends a room's messages on the connection it
# used last, so at a few messages a second the next one comes well within this; a quiet
# connection costs a thread blocked in poll(2) until then, and nothing when the pool is short.
LINGER = 1.0


class HeadFirstWorker(ThreadWorker):
    """A gthread worker whose threads never wait for a request's head (module docstring)."""

    def init_process(self) -> None:
        """Start with no connection waiting for its head, and the pool not crowded."""
        self._heads: dict[Any, float] = {}  # connection -> when its head is due
        self._in_pool = 0  # connections submitted to the pool and not yet finished
        self._crowded = False  # whether the crowded pipe holds its byte
        self._crowded_r, self._crowded_w = os.pipe()
        onesend.install()
        super().init_process()

    def enqueue_req(self, conn: Any) -> None:
        """Submit ``conn`` to a thread if its head is complete, else wait for more in the loop."""
        if self._head_arrived(conn):
            self._heads.pop(conn, None)
            self._in_pool += 1
            if self._in_pool >= self.cfg.threads:
                self._set_crowded(True)
            super().enqueue_req(conn)
            return
        self._heads.setdefault(conn, time.monotonic() + HEAD_TIMEOUT)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._more_of_head, conn))

    def finish_request(self, conn: Any, fs: Any) -> None:
        """Take a connection back from its thread (in the loop), as gthread does."""
        self._in_pool -= 1
        if self._crowded and self._in_pool <= self.cfg.threads * 3 // 4:
            self._set_crowded(False)
        super().finish_request(conn, fs)

    def handle_exit(self, sig: int, frame: Any) -> None:
        """Stop as gthread does; threads waiting for a next request return their connections."""
        super().handle_exit(sig, frame)
        self._set_crowded(True)

    def _set_crowded(self, crowded: bool) -> None:
        """Raise or lower the signal that sends waiting threads' connections back to the loop."""
        if crowded == self._crowded or (not crowded and not self.alive):
            return
        self._crowded = crowded
        if crowded:
            os.write(self._crowded_w, b"!")
        else:
            os.read(self._crowded_r, 1)

    def _more_of_head(self, conn: Any, client: Any) -> None:
        self.poller.unregister(client)
        self.enqueue_req(conn)

    def _head_arrived(self, conn: Any) -> bool:
        """Read what has arrived without blocking; whether a thread has something to do."""
        try:
            data = conn.sock.recv(65536, socket.MSG_DONTWAIT)
        except BlockingIOError:
            data = None
        except OSError:
            return True  # the thread meets the error and closes the connection
        if data == b"":
            return True  # closed by the client: the thread closes it too
        head = getattr(conn, "head", b"") + (data or b"")
        conn.head = head
        return _head_complete(_buffered(conn) + head)

    def handle(self, conn: Any) -> Any:
        """Serve ``conn``'s request, then its next ones while they come within :data:`LINGER`."""
        keep = self._handle_one(conn)
        while keep is True and self._next_head_here(conn):
            keep = self._handle_one(conn)
        return keep

    def _handle_one(self, conn: Any) -> Any:
        """Put the head read by the loop in front of the parser, then handle as gthread does."""
        head = getattr(conn, "head", b"")
        if head:
            conn.head = b""
            conn.init()  # makes the parser (once); the stock handle skips its wait for data
            unreader = conn.parser.unreader
            unreader.unread(unreader.take_buffered() + head)
        return super().handle(conn)

    def _next_head_here(self, conn: Any) -> bool:
        """Wait (in the request's thread) for the next request's whole head on ``conn``; False
        when the time is up, the pool is crowded, the worker stops, or only part of it came."""
        if not self.alive:
            return False
        if _head_complete(_buffered(conn)):
            return True  # read with the last request's body
        waiting = select.poll()
        waiting.register(conn.sock, select.POLLIN)
        waiting.register(self._crowded_r, select.POLLIN)
        ready = dict(waiting.poll(LINGER * 1000))
        if not ready or self._crowded_r in ready or not self.alive:
            return False
        try:
            arrived = conn.sock.recv(65536, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            return True  # the handler meets the error and closes the connection
        # A head not whole yet stays in the socket, and the loop waits for the rest of it.
        return arrived == b"" or _head_complete(_buffered(conn) + arrived)

    def murder_pending(self) -> None:
        """Close the connections whose head is overdue, as well as gthread's own pending ones."""
        super().murder_pending()
        now = time.monotonic()
        for conn, due in list(self._heads.items()):
            if due <= now:
                del self._heads[conn]
                try:
                    self.poller.unregister(conn.sock)
                except (OSError, KeyError, ValueError):
                    pass
                self.nr_conns -= 1
                conn.close()


def _buffered(conn: Any) -> bytes:
    """What the connection's parser has read ahead and not yet parsed."""
    return conn.parser.unreader.buf.getvalue() if conn.parser is not None else b""


def _head_complete(waiting: bytes) -> bool:
    """Whether a thread has a whole head to parse (or more than any head may be: a 431)."""
    return _HEAD_END in waiting or len(waiting) > _HEAD_MAX

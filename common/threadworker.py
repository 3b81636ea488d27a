"""gunicorn's gthread worker, but a request takes a thread only once its head has arrived whole.

The stock worker hands a connection to a thread as soon as its first bytes arrive, and the thread
then blocks until the request line and headers are complete: a client that sends half a request
and stops holds that thread for as long as it keeps the socket open, and a few dozen such sockets
hold all of them (``/healthz`` included). Here the worker's own loop reads what has arrived
(without blocking) until the head is complete, and only then submits the connection to the thread
pool, with those bytes put back in front of the parser. A connection whose head is not complete
:data:`HEAD_TIMEOUT` seconds after it started is closed, without ever having held a thread.

Used by ``common.serve`` for the backend (``worker_class="gthread"``).
"""

from __future__ import annotations

import selectors
import socket
import time
from functools import partial
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

# Seconds a request's head (request line and headers) may take to arrive, from the connection's
# first wait for it. The front server sends each head in one write.
HEAD_TIMEOUT = 10.0
_HEAD_END = b"\r\n\r\n"
# More than this without the end of the head: handed to the parser, which refuses it (431).
_HEAD_MAX = 128 * 1024


class HeadFirstWorker(ThreadWorker):
    """A gthread worker whose threads never wait for a request's head (module docstring)."""

    def init_process(self) -> None:
        """Start with no connection waiting for its head."""
        self._heads: dict[Any, float] = {}  # connection -> when its head is due
        super().init_process()

    def enqueue_req(self, conn: Any) -> None:
        """Submit ``conn`` to a thread if its head is complete, else wait for more in the loop."""
        if self._head_arrived(conn):
            self._heads.pop(conn, None)
            super().enqueue_req(conn)
            return
        self._heads.setdefault(conn, time.monotonic() + HEAD_TIMEOUT)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._more_of_head, conn))

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
        before = conn.parser.unreader.buf.getvalue() if conn.parser is not None else b""
        waiting = before + head
        return _HEAD_END in waiting or len(waiting) > _HEAD_MAX

    def handle(self, conn: Any) -> Any:
        """Put the head read by the loop in front of the parser, then handle as gthread does."""
        head = getattr(conn, "head", b"")
        if head:
            conn.head = b""
            conn.init()  # makes the parser (once); the stock handle skips its wait for data
            unreader = conn.parser.unreader
            unreader.unread(unreader.take_buffered() + head)
        return super().handle(conn)

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

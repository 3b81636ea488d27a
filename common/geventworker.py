"""gunicorn's gevent worker, quiet about the idle connections its stop cuts.

On SIGTERM the worker stops accepting, gives the requests in flight their grace
(``common.serve.WORKER_GRACE``), then kills what is left with ``GreenletExit``: long-polls, and
kept-alive connections waiting for their next request. gunicorn 27 reports each of those as "Error
handling request" with a traceback, although nothing went wrong: a stop is meant to end them.
Here that one exception is let go silently; every other error is reported as gunicorn does.

Used by ``common.serve`` for the front server (``worker_class="gevent"``).
"""

from __future__ import annotations

from typing import Any

import gevent
from gunicorn.workers.ggevent import GeventWorker


class QuietStopWorker(GeventWorker):
    """:class:`GeventWorker` without an error report for a connection the stop cut."""

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        if isinstance(exc, gevent.GreenletExit):
            return  # the stop ended a connection still open after the grace; the socket is closed next
        super().handle_error(req, client, addr, exc)

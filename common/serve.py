"""Run a Flask app on gunicorn from Python, with one worker process and a one-line ready message.

Both launchers (``backend.py`` and ``MainWServer.py``) call :func:`serve`. What it guarantees:

* One worker process unless asked for more. The backend's store is one in-memory index over files
  it alone appends to, so it never has more than one. The front server's WebSocket hub is
  in-process state: several workers of it are several front servers on one port, which only
  ``--redis`` joins up (``MainWServer.py`` refuses more than one without it).
* The listening socket is bound here, before gunicorn starts, so a port in use is one clear
  :class:`ServeError` instead of gunicorn's five retries and a page of log lines.
* When the first worker is ready to accept, it prints one line, ``NAME listening on
  http://HOST:PORT``, with the real port even when 0 was asked for (other workers, and workers
  that replace a dead one, print nothing). Tests and people read the first line holding
  ``http://``, so gunicorn runs at log level ``warning`` (its own "Listening at" line is ``info``)
  and with no access log.
* The worker dies with the master: right after fork it asks the kernel for SIGKILL when its parent
  goes. Without this a ``kill -9`` of the master leaves an orphaned worker that still holds the
  port and the backend's data-directory lock.
* SIGTERM is gunicorn's graceful stop and SIGINT (Ctrl-C) its quick stop; both end with exit
  status 0 within a few seconds, since WebSockets and long-polls never finish on their own.
* A request gunicorn itself refuses (a request line or headers too long to parse) gets the
  JSON error shape, not gunicorn's HTML page.
* With ``gthread``, a request takes a thread only once its head has arrived whole, and a head
  that takes longer than 10 s closes the connection; the thread that answered a kept-alive
  connection serves its next request if it comes within a second and no other request needs the
  thread (:mod:`common.threadworker`); each answer's head leaves with its body in one send
  (:mod:`common.onesend`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import multiprocessing
import os
import resource
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

import gunicorn.util
from gunicorn.app.base import BaseApplication
from gunicorn.errors import HaltServer

from common import pauses

# How a stop is timed. On SIGTERM the worker stops accepting and gives the requests in flight
# WORKER_GRACE seconds (on SIGINT it leaves at once); open WebSockets and 30 s long-polls never
# finish on their own, so they are then cut. The master waits MASTER_GRACE seconds for the worker
# before it SIGKILLs it; the margin covers the worker's own one-second steps, so that a clean stop
# never ends in a kill.
WORKER_GRACE = 1
MASTER_GRACE = 5

# gunicorn kills a worker whose heartbeat file is older than this. For the gthread and gevent
# workers the heartbeat comes from the worker's own loop, not from request handlers, so a 30 s
# long-poll does not count against it; the margin covers a worker whose loop is briefly starved
# (password hashing holding the GIL on a busy two-core machine).
WORKER_TIMEOUT = 60

# The kernel's listen queue: generous, so a burst of connections at start-up is not refused.
BACKLOG = 2048

# HTTP connections one gevent worker serves at once (gunicorn's default is 1,000). A WebSocket
# counts only during its handshake (the chat then takes the socket over, webserver/wire.py), but a
# client that polls holds one through each long-poll and keeps it alive between them, and the
# front server is meant for 10,000 clients; the open-file limit is raised to match (see
# _raise_open_files).
WORKER_CONNECTIONS = 20_000

# Seconds an idle keep-alive connection stays open. The front server keeps a pool of connections
# to the backend; gunicorn's default of 2 s would close them between two messages of a quiet
# room, and a request sent on a connection just being closed fails.
KEEPALIVE = 75

# The longest request line gunicorn accepts (its maximum; the default is 4,094).
REQUEST_LINE_LIMIT = 8190

_PR_SET_PDEATHSIG = 1

# gunicorn's worker classes, as this project runs them. gthread as HeadFirstWorker: a thread per
# request only once its head is complete, which serves a kept-alive connection's next request
# itself. gevent as QuietStopWorker: no traceback for a connection a stop cuts.
_WORKER_CLASSES = {
    "gthread": "common.threadworker.HeadFirstWorker",
    "gevent": "common.geventworker.QuietStopWorker",
}


class ServeError(Exception):
    """The server cannot start; ``str()`` is a one-line reason for the operator."""


def bind(host: str, port: int) -> socket.socket:
    """Open the listening TCP socket on ``host:port`` (0 picks a free port), or raise ServeError."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError, OverflowError) as error:
        raise ServeError(f"cannot listen on {host}:{port}: {error}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        # A restart right after a crash must not wait for old connections in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as error:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    # gunicorn receives the socket by number and the worker inherits it across fork.
    sock.set_inheritable(True)
    return sock


def address_of(sock: socket.socket) -> str:
    """The ``http://HOST:PORT`` a bound socket answers on, IPv6 hosts in brackets."""
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _die_with_parent(master_pid: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent (the gunicorn master) dies."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(errno)}")
    # The master may have died between fork and prctl; the kernel would then never signal us.
    if os.getppid() != master_pid:
        os._exit(1)


def _raise_open_files() -> None:
    """Lift the soft open-file limit to the hard one: every connection is a file descriptor."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# The contract's error codes for the requests gunicorn refuses before the app sees them.
_GUNICORN_ERROR_CODES = {414: "payload_too_large", 431: "payload_too_large", 413: "payload_too_large"}


def _write_json_error(sock: Any, status: int, reason: str, message: str) -> None:
    """gunicorn's own error answer (a request line too long, bad headers) in the JSON error shape.

    Installed in place of gunicorn's HTML page, so that no answer, not even one gunicorn makes
    before any route runs, is an HTML error page. It carries the headers every answer carries,
    with a policy that allows nothing, since it is only JSON.
    """
    code = _GUNICORN_ERROR_CODES.get(status, "bad_request" if status < 500 else "internal_error")
    text = f"{reason}: {message[:200]}" if message else reason
    body = json.dumps({"error": {"code": code, "message": text}}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Referrer-Policy: same-origin\r\n"
        "\r\n"
    )
    gunicorn.util.write_nonblock(sock, head.encode("latin-1") + body)


class _Server(BaseApplication):
    """A gunicorn application whose settings come from a dict and whose app from a factory."""

    def __init__(self, factory: Callable[[], Any], options: dict[str, Any]):
        self._factory = factory
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        """Copy the options into gunicorn's settings."""
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        """Build the WSGI app: in the master when preloading, else in the worker."""
        return self._factory()


def serve(
    factory: Callable[[], Any],
    *,
    name: str,
    host: str,
    port: int,
    worker_class: str,
    workers: int = 1,
    threads: int = 1,
    preload: bool = False,
    started: Callable[[Any], None] | None = None,
) -> None:
    """Serve ``factory()`` on gunicorn until SIGTERM or SIGINT, then return normally.

    ``worker_class`` is ``"gthread"`` (with ``threads`` threads) or ``"gevent"``; ``workers`` is
    the number of worker processes sharing the listening socket. With ``preload``
    the app is built here, in the master, before anything is bound or forked, so a load error
    (a locked or unusable data directory) is raised to the caller, not logged by a dying worker;
    and a worker that dies is not replaced: the server stops with status 1. ``started(app)`` runs
    in the worker once it is ready to serve: threads the app needs are started there, since a
    thread started in the master does not survive the fork.
    Raises :class:`ServeError` when the address cannot be bound.
    """
    _raise_open_files()
    app = factory() if preload else None
    # gunicorn takes the descriptor over (and closes it when it stops), so the socket object
    # lets go of it here rather than closing it a second time.
    fd = bind(host, port).detach()
    master_pid = os.getpid()
    # Shared with the workers across fork: whether the ready line was printed.
    announced = multiprocessing.Value("b", 0)

    def post_fork(_server: Any, _worker: Any) -> None:
        _die_with_parent(master_pid)
        # The workers call gunicorn.util.write_error for requests they cannot parse.
        gunicorn.util.write_error = _write_json_error

    def post_worker_init(worker: Any) -> None:
        # The worker's own copy of the settings: a shorter grace than the master's (see above).
        worker.cfg.set("graceful_timeout", WORKER_GRACE)
        # Ctrl-C signals the whole process group. The master turns it into a quick stop of the
        # worker; the worker acting on its own copy too would run its quit handler twice, which
        # in a gevent worker ends in a SystemExit traceback during interpreter shutdown.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        # The app is built (in the master when preloaded, else just now): what it holds lives as
        # long as the process, so later collections need not walk it (common/pauses.py).
        pauses.settle()
        if worker_class == "gevent":
            import gevent

            # The front server: its WebSockets live long; the gevent loop's next turn is a moment
            # when no greenlet is half-way through anything (see the function).
            pauses.collect_fully_when_idle(gevent.get_hub().loop.run_callback)
        pauses.log_pauses_from_environment()
        if started is not None:
            started(worker.wsgi)
        with announced.get_lock():
            if not announced.value:
                announced.value = 1
                print(f"{name} listening on {address_of(worker.sockets[0])}", flush=True)

    def child_exit(arbiter: Any, _worker: Any) -> None:
        # Runs in the master. While the server is not stopping (its listeners are still open), a
        # worker that exits died unexpectedly (a crash, a kill, a heartbeat timeout). gunicorn would
        # fork a new one from the master, but a preloaded app there holds its state as of start-up:
        # a backend worker forked from it would append to the log from a stale index. So stop,
        # with a non-zero status, and let whoever restarts the server reload it from disk.
        if preload and arbiter.LISTENERS:
            raise HaltServer(f"the {name} worker died; stopping, a restart reloads the data from disk", 1)

    def worker_exit(_server: Any, worker: Any) -> None:
        if worker.booted and not worker.alive:
            # A requested stop, and the grace for requests in flight is over. Leave now: a normal
            # interpreter exit would join the request threads, and a long-poll still waiting
            # would hold the worker until the master kills it. Every acknowledged write is
            # already fsynced, so nothing is lost by skipping the exit handlers.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)

    options = {
        "bind": [f"fd://{fd}"],
        "workers": workers,
        "worker_class": _WORKER_CLASSES[worker_class],
        "threads": threads,
        "worker_connections": WORKER_CONNECTIONS,
        "keepalive": KEEPALIVE,
        "limit_request_line": REQUEST_LINE_LIMIT,
        "preload_app": preload,
        "timeout": WORKER_TIMEOUT,
        "graceful_timeout": MASTER_GRACE,
        "loglevel": "warning",
        "accesslog": None,
        "errorlog": "-",
        "proc_name": name,
        # gunicorn's control socket is a file in the working directory: two processes started
        # from the same directory would fight over it, and nothing here uses it.
        "control_socket_disable": True,
        "post_fork": post_fork,
        "post_worker_init": post_worker_init,
        "worker_exit": worker_exit,
        "child_exit": child_exit,
    }
    server = _Server((lambda: app) if preload else factory, options)
    try:
        server.run()
    except SystemExit as stop:
        # The arbiter leaves with sys.exit(0) on SIGTERM and SIGINT: a normal end for the caller.
        if stop.code not in (0, None):
            raise
    sys.stdout.flush()

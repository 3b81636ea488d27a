"""The backend's worker (common/threadworker.py): a kept-alive connection's next request is served by
the thread that answered the last one, without starving anyone of threads.

Against the real process with a pool of 4 threads: a busy connection's requests leave the worker's
loop asleep; kept-alive connections waiting in threads, beside a long-poll that holds one, still
let every new connection be served at once, and are themselves served afterwards; a head that
comes in pieces on such a connection goes back to the loop, holding no thread, and is served once
whole.
"""

from __future__ import annotations

import socket
import time
from contextlib import ExitStack

import psutil
import pytest
import requests
from live_procs import INTERNAL_SECRET

from common.secret import HEADER

pytestmark = pytest.mark.live

THREADS = 4


def request_bytes(path: str, *, close: bool = False) -> bytes:
    connection = "Connection: close\r\n" if close else ""
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{HEADER}: {INTERNAL_SECRET}\r\n{connection}\r\n".encode()
    )


def read_answer(sock: socket.socket) -> bytes:
    """One whole answer of known length from a kept-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")).split(b":")[
            1
        ]
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def kept_alive(port: int) -> socket.socket:
    """A connection that has made one request and keeps quiet, as a front server's pooled one."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(request_bytes("/healthz"))
    assert read_answer(sock).startswith(b"HTTP/1.1 200")
    return sock


def long_poll(backend) -> socket.socket:
    """A hub's long-poll of the whole feed from its end: it holds a thread until an append."""
    answer = requests.get(f"{backend.url}/internal/rooms", headers={HEADER: INTERNAL_SECRET}, timeout=5)
    sock = socket.create_connection(("127.0.0.1", backend.port), timeout=30)
    sock.sendall(request_bytes(f"/internal/events?after={answer.json()['pos']}&wait=20"))
    time.sleep(0.3)  # it has reached its thread and waits
    return sock


def loop_wakeups(backend) -> int:
    """How many times the worker's loop thread (its main thread) has gone to sleep and woken."""
    worker = psutil.Process(backend.popen.pid).children()[0]
    with open(f"/proc/{worker.pid}/task/{worker.pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("voluntary_ctxt_switches"))


def test_a_busy_connections_requests_do_not_wake_the_loop(start_backend):
    backend = start_backend(None, "--threads", str(THREADS))
    with kept_alive(backend.port) as sock:
        before = loop_wakeups(backend)
        for _ in range(50):
            sock.sendall(request_bytes("/healthz"))
            assert read_answer(sock).startswith(b"HTTP/1.1 200")
        woken = loop_wakeups(backend) - before
    # Through the loop, every request wakes it at least twice (its bytes, then the thread's
    # hand-back); in its thread, the loop wakes only for its once-a-second heartbeat.
    assert woken < 10, woken


def test_connections_waiting_in_threads_never_keep_others_from_being_served(start_backend):
    backend = start_backend(None, "--threads", str(THREADS))
    with ExitStack() as stack:
        poll = stack.enter_context(long_poll(backend))
        # More kept-alive connections than threads, each just answered, then new connections:
        # none waits for a thread that waits for a quiet connection's next request.
        started = time.monotonic()
        quiet = [stack.enter_context(kept_alive(backend.port)) for _ in range(2 * THREADS)]
        for _ in range(10):
            answer = requests.get(f"{backend.url}/healthz", headers={"Connection": "close"}, timeout=5)
            assert answer.status_code == 200
        assert time.monotonic() - started < 1.0
        # The quiet ones are served too, each in turn and all at once.
        for sock in quiet:
            sock.sendall(request_bytes("/healthz"))
        for sock in quiet:
            assert read_answer(sock).startswith(b"HTTP/1.1 200")
        # The long-poll is still waiting.
        poll.settimeout(0.2)
        with pytest.raises(TimeoutError):
            poll.recv(1)


def test_heads_in_pieces_on_kept_alive_connections_hold_no_thread(start_backend):
    backend = start_backend(None, "--threads", str(THREADS))
    first, rest = request_bytes("/healthz").split(b"\r\n", 1)
    with ExitStack() as stack:
        pieced = []
        for _ in range(THREADS - 1):
            sock = stack.enter_context(kept_alive(backend.port))
            sock.sendall(first + b"\r\n")  # the thread waiting for it leaves it to the loop
            pieced.append(sock)
            time.sleep(0.2)
        # A long-poll takes a thread; one is left, and nothing else holds one.
        stack.enter_context(long_poll(backend))
        for _ in range(3):
            assert requests.get(f"{backend.url}/healthz", timeout=2).status_code == 200
        for sock in pieced:
            sock.sendall(rest)
            assert read_answer(sock).startswith(b"HTTP/1.1 200")

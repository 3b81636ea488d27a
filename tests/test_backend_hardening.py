"""The backend's own defences, against the real process: the Host it serves, and slow heads.

DNS rebinding: a page whose name was re-pointed at 127.0.0.1 makes the browser name *its* host in
``Host``; the backend refuses every host name it was not told it serves. Slow heads: a client
that sends half a request and stops must not hold one of the backend's request threads: forty
such sockets (more than its threads) leave ``/healthz`` and the API answering at once, and each
is closed once its head is overdue.
"""

from __future__ import annotations

import socket
import time
from contextlib import ExitStack

import pytest
import requests

pytestmark = pytest.mark.live


def status_with_host(url: str, host: str) -> tuple[int, dict]:
    answer = requests.get(f"{url}/healthz", headers={"Host": host}, timeout=5)
    return answer.status_code, answer.json()


def test_host_names_the_backend_does_not_serve_are_refused(start_backend, start_front):
    backend = start_backend(None, "--allowed-host", "chat-backend.internal")
    port = backend.port
    for host in (f"evil.example:{port}", "evil.example", f"localhost.evil.example:{port}"):
        status, body = status_with_host(backend.url, host)
        assert (status, body["error"]["code"]) == (421, "misdirected_request"), host
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"chat-backend.internal:{port}"):
        assert status_with_host(backend.url, host)[0] == 200, host
    # The front server's calls name the address it was given, and pass.
    front = start_front(f"http://localhost:{port}")
    assert requests.get(f"{front.url}/healthz", timeout=5).json()["backend"] == "ok"


def half_request(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"GET /api/rooms HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    return sock


def test_half_sent_requests_hold_no_thread(start_backend):
    backend = start_backend(None, "--threads", "8")
    with ExitStack() as stack:
        socks = [stack.enter_context(half_request(backend.port)) for _ in range(40)]
        time.sleep(0.5)  # each has reached the backend and waits for the rest
        started = time.monotonic()
        for _ in range(5):
            assert requests.get(f"{backend.url}/healthz", timeout=3).status_code == 200
            assert requests.get(f"{backend.url}/api/rooms", timeout=3).status_code == 401
        assert time.monotonic() - started < 3
        # Each is closed once its head is overdue (10 s), without an answer.
        socks[0].settimeout(20)
        waited = time.monotonic()
        assert socks[0].recv(100) == b""
        assert 5 < time.monotonic() - waited + 0.5 < 15
    # A head that arrives in pieces, in time, is served as usual.
    with socket.create_connection(("127.0.0.1", backend.port), timeout=5) as sock:
        for piece in (b"GET /healthz HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n", b"Connection: close\r\n\r\n"):
            sock.sendall(piece)
            time.sleep(0.3)
        assert sock.recv(100).startswith(b"HTTP/1.1 200")

"""Keepalive: the front server pings idle WebSockets and drops a peer that stops answering.

The front server's ping interval is 25 s; waiting that long in a test would cost a minute, so this
test builds the same app with a half-second interval (its ``WS_PING_INTERVAL`` setting) and
serves it in-process, pointed at the real backend. The silent peer
is a raw socket that completes the handshake and then never reads or answers a ping, as a client
whose network vanished would.
"""

from __future__ import annotations

import base64
import os
import socket
import threading

import pytest
from live_procs import INTERNAL_SECRET
from werkzeug.serving import make_server

import webserver
from tests.timing import wait_for

pytestmark = pytest.mark.live


def _open_silent_websocket(port: int, cookie: str) -> socket.socket:
    """Complete a WebSocket handshake on a raw socket, then go silent."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)  # also bounds every recv
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Cookie: chat_session={cookie}\r\n\r\n"
        ).encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return sock


def test_a_peer_that_stops_answering_pings_is_dropped(live_module, http_user):
    alice = http_user("alice")
    app = webserver.create_app(
        {
            "BACKEND_URL": live_module.backend.url,
            "INTERNAL_SECRET": INTERNAL_SECRET,
            "WS_PING_INTERVAL": 0.5,
        }
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hub = app.extensions["chat.hub"]
    silent = _open_silent_websocket(server.port, alice.cookies["chat_session"])
    try:
        assert wait_for(lambda: len(hub.connections(alice.username)) == 1, 5)
        # One ping unanswered by the next: the server closes and the hub forgets the connection.
        assert wait_for(lambda: not hub.connections(alice.username), 5), "the silent peer was kept"
        received = b""
        while chunk := silent.recv(65536):  # the pings, the hello, then the end of the stream
            received += chunk
        assert received, "the server sent nothing before closing"
    finally:
        silent.close()
        server.shutdown()
        app.extensions["chat.stream"].stop()

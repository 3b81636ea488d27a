"""Keepalive: the front server pings idle WebSockets, drops a peer that stops answering, keeps one
that answers, and lets a connection it closed go when the peer never answers the close.

The front server's ping interval is 25 s; waiting that long in a test would cost a minute, so these
tests build the same app with a shorter interval (its ``WS_PING_INTERVAL`` setting) and serve it
in-process, pointed at the real backend. The silent peer is a raw socket that completes the
handshake and then never reads or answers a ping, as a client whose network vanished would.
"""

from __future__ import annotations

import base64
import os
import socket
import threading
import time

import pytest
from live_procs import INTERNAL_SECRET
from werkzeug.serving import make_server

import webserver
from tests.timing import wait_for
from tests.ws_client import Client
from webserver.reader import KEEPALIVE_SLOTS, Keepalive
from webserver.wire import CLOSE_TIMEOUT

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


@pytest.fixture
def front(live_module):
    """Factory: the front server's app with ``ping_interval``, served in-process; ``(app, url)``."""
    servers = []

    def make(ping_interval: float):
        app = webserver.create_app(
            {
                "BACKEND_URL": live_module.backend.url,
                "INTERNAL_SECRET": INTERNAL_SECRET,
                "WS_PING_INTERVAL": ping_interval,
            }
        )
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append((server, app))
        return app, f"http://127.0.0.1:{server.port}"

    yield make
    for server, app in servers:
        server.shutdown()
        app.extensions["chat.stream"].stop()
        app.extensions["chat.websockets"].keepalive.stop()


def _frames(data: bytes) -> list[tuple[int, bytes]]:
    """The (opcode, payload) of each frame a server sent (unmasked, RFC 6455 5.2), up to its close
    (the test server, werkzeug's, then writes an HTTP answer of its own, which is no frame)."""
    frames: list[tuple[int, bytes]] = []
    while len(data) >= 2 and (not frames or frames[-1][0] != 0x8):
        size, start = data[1] & 0x7F, 2
        if size == 126:
            size, start = int.from_bytes(data[2:4], "big"), 4
        elif size == 127:
            size, start = int.from_bytes(data[2:10], "big"), 10
        if len(data) < start + size:
            break
        frames.append((data[0] & 0x0F, data[start : start + size]))
        data = data[start + size :]
    return frames


def _read_to_end(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_a_peer_that_stops_answering_pings_is_dropped(front, http_user):
    alice = http_user("alice")
    app, url = front(0.5)
    hub = app.extensions["chat.hub"]
    silent = _open_silent_websocket(int(url.rsplit(":", 1)[1]), alice.cookies["chat_session"])
    try:
        assert wait_for(lambda: len(hub.connections(alice.username)) == 1, 5)
        # One ping unanswered by the next: the server closes and the hub forgets the connection.
        assert wait_for(lambda: not hub.connections(alice.username), 5), "the silent peer was kept"
        frames = _frames(_read_to_end(silent))
    finally:
        silent.close()
    opcodes = [opcode for opcode, _ in frames]
    assert 0x9 in opcodes, opcodes  # a ping, unanswered
    assert opcodes[-1] == 0x8 and int.from_bytes(frames[-1][1][:2], "big") == 1008, frames  # the close


def test_a_peer_that_answers_pings_is_kept(front, http_user, stack):
    """The ``websockets`` client answers pings as a browser does: many intervals later it is still
    connected and served."""
    alice = http_user("alice")
    app, url = front(0.2)
    client = Client(stack, alice, url=url)
    time.sleep(2)  # ten pings
    client.send({"type": "typing", "room": "nowhere"})
    assert client.expect("error")["error"]["code"] == "not_found"
    assert len(app.extensions["chat.hub"].connections(alice.username)) == 1


def test_a_close_from_the_server_ends_the_connection_when_the_peer_never_answers(front, http_user):
    """Signing out closes the session's sockets: the close frame is sent, and a peer that never
    answers it is let go after the close timeout, not at the next ping's (a minute here)."""
    alice = http_user("alice")
    app, url = front(60)
    hub = app.extensions["chat.hub"]
    token = alice.cookies["chat_session"]
    silent = _open_silent_websocket(int(url.rsplit(":", 1)[1]), token)
    try:
        assert wait_for(lambda: len(hub.connections(alice.username)) == 1, 5)
        assert hub.close_session(token) == 1
        assert wait_for(lambda: not hub.connections(alice.username), CLOSE_TIMEOUT + 3), "held"
        frames = _frames(_read_to_end(silent))
    finally:
        silent.close()
    opcode, payload = frames[-1]
    assert opcode == 0x8 and int.from_bytes(payload[:2], "big") == 1000, frames
    assert payload[2:] == b"signed out"


class _Pinged:
    """What the wheel asks of a reader: ping(), counted."""

    def __init__(self):
        self.pings = 0

    def ping(self) -> None:
        self.pings += 1


def test_the_wheel_pings_each_connection_once_a_turn_of_its_slots_from_one_interval_on():
    wheel = Keepalive(interval=25)
    first, second = _Pinged(), _Pinged()
    wheel.add(first)
    wheel.turn()  # the slot after the one it joined
    wheel.add(second)
    for _ in range(KEEPALIVE_SLOTS - 2):
        wheel.turn()
    assert (first.pings, second.pings) == (0, 0)  # an interval has not passed for either
    assert wheel.turn() == 1 and (first.pings, second.pings) == (1, 0)
    assert wheel.turn() == 1 and (first.pings, second.pings) == (1, 1)
    wheel.remove(first)
    for _ in range(KEEPALIVE_SLOTS):
        wheel.turn()
    assert (first.pings, second.pings) == (1, 2)

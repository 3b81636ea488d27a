"""A session that ends, by sign-out through any front server or by expiry, loses its WebSockets at once.

A WebSocket is checked at its handshake only; these tests show that its session's end reaches it
anyway, within a second, without the socket sending anything: a sign-out through another front
server process (the backend appends a ``session_ended`` event that every hub follows) and a
session that reaches its ``expires`` (each hub knows when its sockets' sessions end).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from werkzeug.security import generate_password_hash

from tests.live_http import general_room, post, sign_in
from tests.ws_client import WAIT, ws_connect

pytestmark = pytest.mark.live

# The promise: a socket of an ended session is closed within a second (plus a loaded machine's slack).
WITHIN = 1.0
SLACK = 0.5


def closed_at(ws, timeout: float) -> tuple[float, list[dict]]:
    """When ``ws`` was closed by the server (monotonic), and the frames it got before."""
    frames = []
    deadline = time.monotonic() + timeout
    with pytest.raises(ConnectionClosed):
        while True:
            frames.append(json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic()))))
    return time.monotonic(), frames


def test_a_sign_out_through_another_front_server_closes_the_sessions_sockets(
    start_backend, start_front, stack
):
    """Signed out through front server B: its sockets on A close within a second; its other session's stay."""
    backend = start_backend()
    first, second = start_front(backend), start_front(backend)
    alice, bob = sign_in(first.url), sign_in(first.url)
    other_tab = sign_in(first.url, alice.username)  # alice's second session
    room = general_room(bob)
    leaving = stack.enter_context(ws_connect(first.url, alice.token))
    staying = stack.enter_context(ws_connect(first.url, other_tab.token))
    for ws in (leaving, staying):
        assert json.loads(ws.recv(timeout=WAIT))["type"] == "hello"
    answer = requests.delete(f"{second.url}/api/session", cookies={"chat_session": alice.token}, timeout=10)
    assert answer.status_code == 204
    signed_out = time.monotonic()
    post(bob, room, "after the sign-out")  # a message the ended session must not get
    when, frames = closed_at(leaving, WAIT)
    assert when - signed_out < WITHIN + SLACK, when - signed_out
    assert leaving.close_code == 1000 and leaving.close_reason == "signed out"
    assert "after the sign-out" not in json.dumps(frames)
    while json.loads(staying.recv(timeout=WAIT)).get("message", {}).get("text") != "after the sign-out":
        pass  # presence and the like; the message itself must come
    assert (
        requests.get(
            f"{first.url}/api/session", cookies={"chat_session": alice.token}, timeout=10
        ).status_code
        == 401
    )


def test_a_socket_is_closed_when_its_session_expires(start_backend, start_front, data_dir, stack):
    """A session that reaches its ``expires`` loses its socket within a second, and is 401 after."""
    token = "expiring-" + uuid.uuid4().hex
    user = {
        "username": "alice",
        "password_hash": generate_password_hash("password-1"),
        "created_at": "2026-01-01T00:00:00.000Z",
    }
    (data_dir / "users.jsonl").write_text(json.dumps(user) + "\n")
    expires = time.time() + 12  # room for starting both processes on a busy machine
    session = {
        "op": "open",
        "token_sha256": hashlib.sha256(token.encode()).hexdigest(),
        "username": "alice",
        "expires": expires,
    }
    (data_dir / "sessions.jsonl").write_text(json.dumps(session) + "\n")
    front = start_front(start_backend())
    ws = stack.enter_context(ws_connect(front.url, token))
    assert json.loads(ws.recv(timeout=WAIT))["type"] == "hello"
    assert time.time() < expires - 1, "the processes took too long to start for this test"
    when, _ = closed_at(ws, expires - time.time() + 5)
    late = time.time() - (time.monotonic() - when) - expires  # seconds after expires it closed
    assert -0.1 < late < WITHIN + SLACK, late
    assert ws.close_code == 1008 and ws.close_reason == "session expired"
    assert (
        requests.get(f"{front.url}/api/session", cookies={"chat_session": token}, timeout=10).status_code
        == 401
    )

"""Live tests of ``/ws`` under faults: bad frames, refused handshakes, sign-out, a backend crash.

The real backend and front server, driven with the ``websockets`` client as a browser would.
"""

from __future__ import annotations

import json
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.live_http import make_room
from tests.ws_client import WAIT, Client, ws_connect

pytestmark = pytest.mark.live


def test_bad_frames_get_errors_and_the_connection_stays(live_module, http_user, stack) -> None:
    alice, bob = http_user("alice"), http_user("bob")
    before = alice.get(f"{alice.base_url}/api/events", timeout=WAIT).json()["pos"]
    private, public = make_room(bob, []), make_room(bob, [], "public")
    mine = make_room(alice, [])
    a = Client(stack, alice, after=before)
    # Once her room's creation reaches her, the hub has applied every room above (the log's order):
    # a typing frame is judged by the hub's view of the rooms.
    a.until(lambda frame: frame.get("type") == "room" and frame["room"]["id"] == mine)
    cases = [
        ("{not json", "invalid_json"),
        ("[1, 2]", "validation_error"),
        ('"text"', "validation_error"),
        ('{"type": "shout", "room": "x"}', "validation_error"),
        ('{"room": "x"}', "validation_error"),
        (json.dumps({"type": "send", "room": mine, "client_id": "c1"}), "validation_error"),
        (json.dumps({"type": "send", "room": mine, "text": 5, "client_id": "c2"}), "validation_error"),
        (json.dumps({"type": "send", "room": 7, "text": "x", "client_id": "c3"}), "validation_error"),
        (json.dumps({"type": "send", "room": mine, "text": "   ", "client_id": "c4"}), "validation_error"),
        (json.dumps({"type": "send", "room": mine, "text": "x", "client_id": "bad id!"}), "validation_error"),
        (json.dumps({"type": "send", "room": private, "text": "x", "client_id": "c5"}), "not_found"),
        (json.dumps({"type": "send", "room": public, "text": "x", "client_id": "c6"}), "not_a_member"),
        (json.dumps({"type": "send", "room": "../session", "text": "x", "client_id": "c7"}), "not_found"),
        (json.dumps({"type": "typing", "room": private}), "not_found"),
        (json.dumps({"type": "typing", "room": public}), "not_a_member"),
        (json.dumps({"type": "typing"}), "validation_error"),
        (b"\x00binary", "invalid_json"),
    ]
    for raw, code in cases:
        a.ws.send(raw)
        error = a.expect("error")
        assert error["error"]["code"] == code, (raw, error)
        assert error["error"]["message"]
    a.send({"type": "send", "room": mine, "text": "still here", "client_id": "ok-1"})
    assert a.ack_and_echo()[0]["message"]["text"] == "still here"


def test_the_error_frame_names_the_client_id(live_module, http_user, stack) -> None:
    a = Client(stack, http_user("alice"))
    a.send({"type": "send", "room": "nowhere", "text": "x", "client_id": "c-77"})
    error = a.expect("error")
    assert error["client_id"] == "c-77" and error["error"]["code"] == "not_found"


def test_an_oversized_frame_closes_with_1009(live_module, http_user, stack) -> None:
    a = Client(stack, http_user("alice"))
    a.send({"type": "send", "room": "r", "text": "x" * 70_000, "client_id": "big"})
    with pytest.raises(ConnectionClosed) as closed:
        a.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_handshake_needs_the_cookie_and_the_own_origin(live_module, http_user) -> None:
    url, token = live_module.url, http_user("alice").token
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(url, None, open_timeout=5).close()
    assert refused.value.response.status_code == 401
    for origin in ("http://evil.example", "null"):
        with pytest.raises(InvalidStatus) as refused:
            ws_connect(url, token, origin, open_timeout=5).close()
        assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(url, token, after="soon", open_timeout=5).close()
    assert refused.value.response.status_code == 422
    with pytest.raises(InvalidStatus) as refused:  # a digit to str.isdigit(), not to int()
        ws_connect(url, token, None, after="%C2%B2", open_timeout=5).close()
    assert refused.value.response.status_code == 422
    with ws_connect(url, token, None, open_timeout=5) as ws:  # no Origin: a script
        assert json.loads(ws.recv(timeout=WAIT))["type"] == "hello"
        # The client offered permessage-deflate (websockets does by default); it is declined.
        assert "Sec-WebSocket-Extensions" not in ws.response.headers


def test_sign_out_closes_the_sessions_sockets_within_a_second(live_module, http_user, stack) -> None:
    alice = http_user("alice")
    other = http_user(alice.username, password=alice.password, unique=False)  # a second session
    mine = [Client(stack, alice), Client(stack, alice)]
    kept = Client(stack, other)
    started = time.monotonic()
    assert alice.delete(f"{alice.base_url}/api/session", timeout=10).status_code == 204
    for client in mine:
        with pytest.raises(ConnectionClosed):
            client.recv(timeout=1.0)
    assert time.monotonic() - started < 1.5
    kept.send({"type": "typing", "room": "nowhere"})
    assert kept.expect("error")["error"]["code"] == "not_found"


def test_the_connection_survives_a_backend_crash(live, http_user, stack) -> None:
    alice, bob = http_user("alice"), http_user("bob")
    room = make_room(alice, [bob])
    a, b = Client(stack, alice), Client(stack, bob)
    live.backend.kill9()
    a.send({"type": "send", "room": room, "text": "lost", "client_id": "down-1"})
    error = a.expect("error")
    assert error["client_id"] == "down-1" and error["error"]["code"] == "backend_unavailable"
    live.backend.restart()
    a.send({"type": "send", "room": room, "text": "back", "client_id": "up-1"})
    ack, _ = a.ack_and_echo()
    assert ack["message"]["text"] == "back" and ack["message"]["seq"] == 1
    assert b.expect("message")["message"] == ack["message"]
    # Both were told when the backend went away and when it came back (status frames).
    down, up = ({"type": "status", "backend": state} for state in ("unavailable", "ok"))
    for client in (a, b):
        if up not in client.statuses:
            client.statuses.append(client.until(lambda frame: frame == up, skipped=[]))
        assert client.statuses == [down, up]

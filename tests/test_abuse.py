"""Abuse: stolen, forged and expired sessions, cross-site requests, cookie flags and rate limits.

Each test plays the attacker against the real processes and checks the contract's answer: 401 for a
session that is not (or no longer) valid, on HTTP and on the WebSocket handshake alike; 403 for a
state-changing request or a handshake from another site; 429 ``rate_limited`` with ``Retry-After``
past a limit (and an ``error`` frame on a WebSocket that stays open); and the session cookie's
flags. (Secrets at rest are checked in ``test_secrets_at_rest.py``; the security headers and the
body limit in ``test_front_http.py``.)
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from contextlib import ExitStack

import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from werkzeug.security import generate_password_hash

from tests import backend_fixtures as fx
from tests.live_http import cookie_attributes, general_room, make_room, sign_in, unique
from tests.ws_client import WAIT, Client, ws_connect

pytestmark = pytest.mark.live


EVIL = "http://evil.example"


def handshake_status(url: str, token: str | None, origin: str | None = "self") -> int:
    """The status the handshake gets: 101 when the socket opens, else the refusal's status."""
    try:
        with ws_connect(url, token, origin) as ws:
            assert json.loads(ws.recv(timeout=WAIT))["type"] == "hello"
            return 101
    except InvalidStatus as refused:
        body = json.loads(refused.response.body)
        assert {401: "unauthenticated", 403: "forbidden"}.get(refused.response.status_code) == body["error"][
            "code"
        ]
        return refused.response.status_code


def status_of(session_or_token, url: str) -> int:
    """GET /api/session's status for a session or a bare token."""
    if isinstance(session_or_token, str):
        return requests.get(
            f"{url}/api/session", cookies={"chat_session": session_or_token}, timeout=10
        ).status_code
    return session_or_token.get(f"{url}/api/session", timeout=10).status_code


def limited(answer: requests.Response, at_most: int) -> int:
    """Check a 429 ``rate_limited`` answer; the whole seconds of its ``Retry-After``."""
    assert answer.status_code == 429, answer.text
    assert answer.json()["error"]["code"] == "rate_limited"
    retry = answer.headers.get("Retry-After", "")
    assert retry.isdigit() and 1 <= int(retry) <= at_most, retry
    return int(retry)


# -- sessions ---------------------------------------------------------------------------------------


def test_sign_out_revokes_the_session_and_closes_its_websockets_within_a_second(live_module):
    """The signed-out session is dead on HTTP and /ws at once; the same user's other session lives on."""
    url = live_module.url
    first = sign_in(url)
    second = sign_in(url, first.username)
    assert second.token != first.token
    with ExitStack() as stack:
        doomed = [Client(stack, first) for _ in range(2)]
        kept = Client(stack, second)

        answer = first.delete(f"{url}/api/session", timeout=10)
        signed_out = time.monotonic()
        assert answer.status_code == 204
        for client in doomed:
            with pytest.raises(ConnectionClosed):
                while True:
                    client.ws.recv(timeout=max(0.01, signed_out + 1.0 - time.monotonic()))
            assert time.monotonic() - signed_out <= 1.0

        assert status_of(first.token, url) == 401
        assert handshake_status(url, first.token) == 401
        posted = requests.post(
            f"{url}/api/rooms", json={"name": "after"}, cookies={"chat_session": first.token}, timeout=10
        )
        assert posted.status_code == 401 and posted.json()["error"]["code"] == "unauthenticated"

        assert status_of(second, url) == 200
        kept.send({"type": "send", "room": general_room(second), "text": "still here", "client_id": "k1"})
        frame = kept.until(lambda f: f["type"] in ("ack", "error"))
        assert frame["type"] == "ack", frame


@pytest.mark.parametrize(
    "forge",
    [
        lambda real: uuid.uuid4().hex + uuid.uuid4().hex,
        lambda real: real[:-1] + ("A" if real[-1] != "A" else "B"),
        lambda real: real + "x",
        lambda real: real.upper(),
        lambda real: hashlib.sha256(real.encode()).hexdigest(),  # what the data directory holds
        lambda real: "x" * 3000,
        lambda real: " ",
    ],
    ids=["random", "one-char-changed", "extended", "upper-case", "stored-digest", "long", "blank"],
)
def test_a_forged_cookie_is_refused(live_module, forge):
    """A token the server never issued is 401 on HTTP and on the handshake."""
    real = sign_in(live_module.url).token
    fake = forge(real)
    assert status_of(fake, live_module.url) == 401
    assert handshake_status(live_module.url, fake) == 401


def test_an_expired_session_is_refused(start_backend, start_front, data_dir):
    """A session whose ``expires`` has passed is 401 on HTTP and /ws; a live one next to it works."""
    expired, valid = "expired-" + uuid.uuid4().hex, "valid-" + uuid.uuid4().hex
    now = time.time()
    user = {
        "username": "alice",
        "password_hash": generate_password_hash("password-1"),
        "created_at": "2026-01-01T00:00:00.000Z",
    }
    (data_dir / "users.jsonl").write_text(json.dumps(user) + "\n")
    records = [
        {
            "op": "open",
            "token_sha256": hashlib.sha256(t.encode()).hexdigest(),
            "username": "alice",
            "expires": e,
        }
        for t, e in ((expired, now - 60), (valid, now + 3600))
    ]
    (data_dir / "sessions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    front = start_front(start_backend())
    assert status_of(valid, front.url) == 200
    assert handshake_status(front.url, valid) == 101
    assert status_of(expired, front.url) == 401
    assert handshake_status(front.url, expired) == 401


# -- cookies ----------------------------------------------------------------------------------------


def test_the_session_cookie_is_httponly_samesite_lax_and_not_secure_by_default(live_module):
    """HttpOnly, SameSite=Lax, Path=/, 30 days; no Secure on plain HTTP; sign-out clears it alike."""
    user = sign_in(live_module.url)
    attributes = cookie_attributes(user.answer.headers["Set-Cookie"])
    assert "httponly" in attributes and attributes["samesite"].lower() == "lax"
    assert attributes["path"] == "/" and "secure" not in attributes
    assert 30 * 86400 - 120 <= int(attributes["max-age"]) <= 30 * 86400
    cleared = cookie_attributes(
        user.delete(f"{live_module.url}/api/session", timeout=10).headers["Set-Cookie"]
    )
    assert cleared["max-age"] == "0" and "httponly" in cleared and cleared["samesite"].lower() == "lax"


# -- cross-site -------------------------------------------------------------------------------------


def test_state_changing_requests_from_another_origin_are_refused(live_module):
    """Foreign and ``null`` Origins get 403 on every state-changing route; own or none: the cookie decides."""
    url = live_module.url
    user = sign_in(url)
    host, port = url.removeprefix("http://").split(":")
    foreign = [
        EVIL,
        "null",
        f"http://{host}:{int(port) + 1}",
        f"https://{host}:{port}",
        f"http://localhost:{port}",
    ]
    room = make_room(user, visibility="public", name="origin")
    other = sign_in(url)
    calls = [
        ("POST", "/api/rooms", {"name": "csrf"}),
        ("POST", f"/api/rooms/{room}/messages", {"text": "csrf", "client_id": "c1"}),
        ("POST", f"/api/rooms/{room}/members", {"username": other.username}),
        ("DELETE", f"/api/rooms/{room}/members/{user.username}", None),
        ("POST", "/api/dms", {"username": other.username}),
        ("DELETE", "/api/session", None),
        ("POST", "/api/session", {"username": user.username, "password": user.password}),
    ]
    for origin in foreign:
        for method, path, body in calls:
            answer = user.request(method, url + path, json=body, headers={"Origin": origin}, timeout=10)
            assert answer.status_code == 403, (origin, method, path, answer.text)
            assert answer.json()["error"]["code"] == "forbidden"
    assert status_of(user, url) == 200  # the refused sign-out did nothing
    history = user.get(f"{url}/api/rooms/{room}/messages", timeout=10).json()
    assert history["messages"] == []  # nor did the refused post
    # Reading is not state-changing: a foreign Origin may read what its cookie allows.
    assert user.get(f"{url}/api/rooms", headers={"Origin": EVIL}, timeout=10).status_code == 200
    for headers in ({"Origin": url}, {}):
        answer = user.post(
            f"{url}/api/rooms/{room}/messages",
            json={"text": "ok", "client_id": uuid.uuid4().hex},
            headers=headers,
            timeout=10,
        )
        assert answer.status_code == 201, answer.text


def test_a_websocket_handshake_from_another_origin_is_refused(live_module):
    """/ws: a foreign or ``null`` Origin is 403 even with a valid cookie; own Origin and none open."""
    url = live_module.url
    token = sign_in(url).token
    for origin in (EVIL, "null", url.replace("127.0.0.1", "localhost"), url.replace("http:", "https:")):
        assert handshake_status(url, token, origin) == 403, origin
    assert handshake_status(url, token, "self") == 101
    assert handshake_status(url, token, None) == 101
    assert handshake_status(url, None, EVIL) in (401, 403)


def test_allowed_origin_and_secure_cookies(live_module, start_front):
    """``--allowed-origin`` admits that origin to post and open /ws, no other; ``--secure-cookies``
    marks the cookie Secure when it is set and when it is cleared."""
    allowed = "https://chat.example:8443"
    front = start_front(live_module.backend, "--allowed-origin", allowed, "--secure-cookies")
    answer = sign_in(front.url, unique("sec"), headers={"Origin": allowed}, status=None).answer
    assert answer.status_code == 201, answer.text
    attributes = cookie_attributes(answer.headers["Set-Cookie"])
    assert "secure" in attributes and "httponly" in attributes and attributes["samesite"].lower() == "lax"
    token = attributes["value"]
    jar = {"chat_session": token}  # requests keeps a Secure cookie off plain http: sent by hand
    for origin, status in ((allowed, 201), ("https://chat.example", 403), (EVIL, 403), (front.url, 201)):
        answer = requests.post(
            f"{front.url}/api/rooms",
            json={"name": "allowed"},
            cookies=jar,
            headers={"Origin": origin},
            timeout=10,
        )
        assert answer.status_code == status, (origin, answer.text)
        assert handshake_status(front.url, token, origin) == (101 if status == 201 else 403), origin
    cleared = requests.delete(f"{front.url}/api/session", cookies=jar, timeout=10)
    assert "secure" in cookie_attributes(cleared.headers["Set-Cookie"])


# -- rate limits ------------------------------------------------------------------------------------


@pytest.fixture
def strict(start_backend, start_front):
    """A stack with small limits: 5 messages then 1 a second, 2 rooms, 3 failed sign-ins."""
    backend = start_backend(
        None, "--message-burst", "5", "--message-rate", "1", "--room-burst", "2", "--login-failures", "3"
    )
    return start_front(backend)


def test_messages_over_the_limit_get_429_with_retry_after(strict):
    """Over HTTP: the burst, then 429 with Retry-After; per user; a retry of a stored one still answers.

    That sending works again once Retry-After has passed is shown on the backend's own app with a
    clock the test moves (``test_messages_flow_again_once_retry_after_has_passed``), not by sleeping.
    """
    url = strict.url
    user, other = sign_in(url), sign_in(url)
    rooms = user.get(f"{url}/api/rooms", timeout=10).json()["rooms"]
    general = next(r["id"] for r in rooms if r["name"] == "general")

    def post(session, client_id):
        return session.post(
            f"{url}/api/rooms/{general}/messages", json={"text": "spam", "client_id": client_id}, timeout=10
        )

    for n in range(5):
        assert post(user, f"m{n}").status_code == 201
    limited(post(user, "m5"), at_most=2)
    assert post(user, "m0").status_code == 200  # an idempotent retry is answered, not limited
    assert post(other, "o0").status_code == 201  # the limit is per user
    history = user.get(f"{url}/api/rooms/{general}/messages", timeout=10).json()["messages"]
    assert [m["client_id"] for m in history if m["sender"] == user.username] == [f"m{n}" for n in range(5)]


def test_messages_flow_again_once_retry_after_has_passed(make_backend_app, clock):
    """5 messages then 1 a second: refused until the Retry-After has passed, then stored."""
    app = make_backend_app({"MESSAGE_BURST": 5, "MESSAGE_RATE": 1, "RATE_LIMIT_CLOCK": clock})
    alice = fx.callers(app).alice
    room = fx.general(alice)["id"]
    for n in range(5):
        assert fx.say(alice, room, "spam", f"m{n}").status_code == 201
    refused = fx.say(alice, room, "spam", "m5")
    fx.check_retry_after(refused, at_most=1)
    clock.advance(0.9)
    fx.check_retry_after(fx.say(alice, room, "spam", "m5"), at_most=1)
    clock.advance(int(refused.headers["Retry-After"]))
    assert fx.say(alice, room, "spam", "m5").status_code == 201
    fx.check_retry_after(fx.say(alice, room, "spam", "m6"), at_most=1)
    assert fx.page(alice, room)[0] == [1, 2, 3, 4, 5, 6]


def test_websocket_messages_over_the_limit_get_an_error_frame_and_the_socket_stays_open(strict):
    """Over /ws: the rest of the burst is acked, then ``rate_limited`` with ``retry_after``; the socket
    stays open and still carries sends (a retry, which the limit does not charge).

    HTTP and the WebSocket draw on the same allowance, so switching between them gains nothing.
    """
    user = sign_in(strict.url)
    rooms = user.get(f"{strict.url}/api/rooms", timeout=10).json()["rooms"]
    general = next(r["id"] for r in rooms if r["name"] == "general")
    with ws_connect(strict.url, user.token) as ws:
        assert json.loads(ws.recv(timeout=WAIT))["type"] == "hello"

        def send(client_id: str) -> dict:
            ws.send(json.dumps({"type": "send", "room": general, "text": "spam", "client_id": client_id}))
            while True:
                frame = json.loads(ws.recv(timeout=WAIT))
                if frame["type"] in ("ack", "error") and frame.get("client_id") == client_id:
                    return frame

        for n in range(3):  # one budget for both ways in: part of it spent over HTTP
            posted = user.post(
                f"{strict.url}/api/rooms/{general}/messages",
                json={"text": "spam", "client_id": f"h{n}"},
                timeout=10,
            )
            assert posted.status_code == 201
        for n in range(2):
            assert send(f"w{n}")["type"] == "ack"
        refused = send("w5")
        assert refused["type"] == "error" and refused["error"]["code"] == "rate_limited", refused
        assert 1 <= refused["error"]["retry_after"] <= 2
        assert send("w0")["type"] == "ack"  # same connection, still open


def test_room_creation_and_failed_sign_ins_are_limited(strict):
    """Rooms: a burst of 2 then 429. Sign-ins: 3 failures, then 429 even for the right password."""
    url = strict.url
    user = sign_in(url)
    for n in range(2):
        assert user.post(f"{url}/api/rooms", json={"name": f"r{n}"}, timeout=10).status_code == 201
    limited(user.post(f"{url}/api/rooms", json={"name": "r2"}, timeout=10), at_most=10)
    assert sign_in(url).post(f"{url}/api/rooms", json={"name": "mine"}, timeout=10).status_code == 201

    def attempt(name: str, password: str) -> requests.Response:
        return requests.post(f"{url}/api/session", json={"username": name, "password": password}, timeout=10)

    for _ in range(3):
        answer = attempt(user.username, "wrong-password")
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "invalid_credentials"
    limited(attempt(user.username, "wrong-password"), at_most=300)
    limited(attempt(user.username, user.password), at_most=300)  # a guess that is right is refused too
    limited(attempt(user.username.upper(), user.password), at_most=300)  # names are one ignoring case
    assert status_of(user, url) == 200  # the existing session is untouched
    bystander = sign_in(url)
    assert attempt(bystander.username, bystander.password).status_code == 200


def test_limits_are_on_by_default(live_module):
    """Started with no flags, the backend refuses the 11th failed sign-in and the 21st room in a row."""
    url = live_module.url
    user = sign_in(url)
    for _ in range(10):
        assert (
            requests.post(
                f"{url}/api/session",
                json={"username": user.username, "password": "wrong-password"},
                timeout=10,
            ).status_code
            == 401
        )
    limited(
        requests.post(
            f"{url}/api/session", json={"username": user.username, "password": user.password}, timeout=10
        ),
        at_most=300,
    )
    maker = sign_in(url)
    for n in range(20):
        assert maker.post(f"{url}/api/rooms", json={"name": f"d{n}"}, timeout=10).status_code == 201
    limited(maker.post(f"{url}/api/rooms", json={"name": "d20"}, timeout=10), at_most=10)


def test_failed_sign_ins_are_refused_until_the_window_passes(make_backend_app, clock):
    """Past the limit even the right password is refused; once the window has passed it works again.

    The window is the default five minutes, on a clock the test moves instead of waiting.
    """
    client = make_backend_app({"LOGIN_FAILURES": 3, "RATE_LIMIT_CLOCK": clock}).test_client()

    def attempt(password: str):
        return client.post("/api/session", json={"username": "alice", "password": password})

    for _ in range(3):
        assert attempt("wrong-password").status_code == 401
    refused = attempt(fx.PASSWORD)
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "rate_limited"
    wait = int(refused.headers["Retry-After"])
    assert wait == 300
    clock.advance(wait - 1)
    assert attempt(fx.PASSWORD).status_code == 429
    clock.advance(1)
    assert attempt(fx.PASSWORD).status_code == 200

"""One signed-in account must not be able to take the chat down for everyone else.

Each test plays a registered user in bad faith against the real processes (the contract's "Limits
that protect everyone from one account"): long-polls that would each hold a backend thread,
more WebSockets than anyone needs, a flood of frames. Meanwhile another user's requests must stay
quick and correct.
"""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.live_http import general_room, post, sign_in
from tests.ws_client import WAIT, ws_connect
from webserver.admission import reserve

pytestmark = pytest.mark.live

# Seconds another user's request may take while the attack goes on: a quiet stack answers in a few
# milliseconds, a stack whose backend threads are all held answers 503 after 1.5 s or more.
QUICK = 1.0


def timed(call) -> tuple[float, requests.Response]:
    """``call()``'s answer and how long it took."""
    started = time.monotonic()
    answer = call()
    return time.monotonic() - started, answer


def test_long_polls_and_heads_of_one_user_never_hold_the_backends_threads(live):
    """40 long-polls past the end of the log and 40 HEADs of them: others stay quick, never 503.

    Each long-poll used to be relayed with its wait and hold one of the backend's 32 threads; a
    HEAD was relayed as a long GET. Now a long-poll waits in the hub, and a HEAD never waits.
    """
    attacker, victim = sign_in(live.url), sign_in(live.url)
    room = general_room(victim)
    polls = f"{live.url}/api/events?after=999999999&wait=30"
    cookies = {"chat_session": attacker.token}

    def attack(method: str) -> int | str:
        try:
            return requests.request(method, polls, cookies=cookies, timeout=(2, 4)).status_code
        except requests.RequestException as error:
            return type(error).__name__  # a long-poll still waiting when the client gives up

    with ThreadPoolExecutor(80) as pool:
        attacks = [pool.submit(attack, method) for method in ["GET", "HEAD"] * 40]
        time.sleep(1.0)  # every attacking request is in by now
        slow = []
        for n in range(5):
            for what, call in (
                ("rooms", lambda: victim.get(f"{live.url}/api/rooms", timeout=10)),
                (
                    "post",
                    lambda n=n: victim.post(
                        f"{live.url}/api/rooms/{room}/messages",
                        json={"text": f"still here {n}", "client_id": uuid.uuid4().hex},
                        timeout=10,
                    ),
                ),
                ("events", lambda: victim.get(f"{live.url}/api/events?after=0", timeout=10)),
            ):
                took, answer = timed(call)
                assert answer.status_code < 300, (what, answer.status_code, answer.text)
                if took > QUICK:
                    slow.append((what, round(took, 2)))
        took, newcomer = timed(lambda: sign_in(live.url))
        assert newcomer.status == 201
        assert not slow and took < 3 * QUICK, (slow, took)
        outcomes = [attack.result() for attack in attacks]
    # The attacker's own requests are answered as such requests are: a long-poll with nothing new
    # (or the client gave up first), a HEAD at once or a 429 past the user's share; never a 5xx.
    assert not [o for o in outcomes if isinstance(o, int) and o >= 500], outcomes
    assert {o for o in outcomes if isinstance(o, int)} <= {200, 429}, outcomes


def test_a_long_poll_past_the_end_of_the_log_gets_new_events(live):
    """A cursor past the end of the log waits in the hub and gets the next event, as the backend would."""
    reader, writer = sign_in(live.url), sign_in(live.url)
    room = general_room(writer)
    with ThreadPoolExecutor(1) as pool:
        poll = pool.submit(
            reader.get, f"{live.url}/api/events", params={"after": 10**12, "wait": 10}, timeout=20
        )
        time.sleep(0.5)
        sent = post(writer, room, "past the end")
        answer = poll.result()
    assert answer.status_code == 200, answer.text
    body = answer.json()
    [event] = [e for e in body["events"] if e["type"] == "message"]
    assert event["message"]["text"] == sent["text"] == "past the end"
    assert body["pos"] == event["pos"]


def test_head_of_a_long_poll_answers_at_once(live):
    """HEAD never waits: its answer has no body to wait for."""
    user = sign_in(live.url)
    took, answer = timed(
        lambda: user.head(f"{live.url}/api/events", params={"after": 10**12, "wait": 30}, timeout=10)
    )
    assert answer.status_code == 200 and took < QUICK, (answer.status_code, took)


# -- WebSockets per user, and the open-file limit ------------------------------------------------


def refusal(url: str, token: str) -> tuple[int, str, str | None]:
    """Status, error code and Retry-After of a handshake that must be refused."""
    with pytest.raises(InvalidStatus) as refused, ws_connect(url, token):
        pass
    answer = refused.value.response
    return answer.status_code, json.loads(answer.body)["error"]["code"], answer.headers.get("Retry-After")


def opened(url: str, token: str, stack):
    """An open WebSocket, its hello read."""
    ws = stack.enter_context(ws_connect(url, token))
    assert json.loads(ws.recv(timeout=WAIT))["type"] == "hello"
    return ws


def test_websockets_past_a_users_cap_are_refused_with_429(start_backend, start_front, stack):
    """``--ws-per-user 5``: a user's sixth socket is 429, others' are not; a closed one frees its place."""
    front = start_front(start_backend(), "--ws-per-user", "5")
    alice, bob = sign_in(front.url), sign_in(front.url)
    sockets = [opened(front.url, alice.token, stack) for _ in range(5)]
    assert refusal(front.url, alice.token) == (429, "rate_limited", "1")
    opened(front.url, bob.token, stack)
    sockets[0].close()
    deadline = time.monotonic() + 5
    while True:  # the server counts the socket out once it has seen it close
        try:
            opened(front.url, alice.token, stack)
            break
        except InvalidStatus:
            assert time.monotonic() < deadline, "a closed socket never gave its place back"
            time.sleep(0.1)
    assert refusal(front.url, alice.token)[0] == 429


def test_near_the_open_file_limit_new_websockets_get_503_and_http_goes_on(live, stack):
    """Within the reserve of the open-file limit a handshake is 503 ``server_busy``; HTTP still answers."""
    user = sign_in(live.url)
    opened(live.url, user.token, stack)
    worker = next(
        p for p in psutil.Process(live.front.popen.pid).children() if "MainWServer" in " ".join(p.cmdline())
    )
    soft, hard = worker.rlimit(psutil.RLIMIT_NOFILE)
    files = worker.num_fds()
    worker.rlimit(psutil.RLIMIT_NOFILE, (files + reserve(files), hard))
    try:
        time.sleep(1.2)  # the server counts its files at most once a second
        assert refusal(live.url, user.token)[:2] == (503, "server_busy")
        assert requests.get(f"{live.url}/healthz", timeout=10).status_code == 200
        assert user.get(f"{live.url}/api/rooms", timeout=10).status_code == 200
    finally:
        worker.rlimit(psutil.RLIMIT_NOFILE, (soft, hard))
    time.sleep(1.2)
    opened(live.url, user.token, stack)


# -- frames per WebSocket ----------------------------------------------------------------------


def test_a_flood_of_frames_gets_an_error_frame_then_a_1008_close(live, stack):
    """Over 50 frames a second for seconds: one ``rate_limited`` error frame, then close 1008."""
    user = sign_in(live.url)
    room = general_room(user)
    ws = opened(live.url, user.token, stack)
    typing = json.dumps({"type": "typing", "room": room})
    started = time.monotonic()
    with pytest.raises(ConnectionClosed):
        while time.monotonic() - started < 10:
            ws.send(typing)
            time.sleep(0.004)  # about 200 a second
    took = time.monotonic() - started
    frames = []
    with pytest.raises(ConnectionClosed):
        while True:
            frames.append(json.loads(ws.recv(timeout=WAIT)))
    errors = [f for f in frames if f["type"] == "error"]
    assert [e["error"]["code"] for e in errors] == ["rate_limited"], frames
    assert ws.close_code == 1008 and "too many frames" in ws.close_reason
    assert 3 <= took < 8, took


def test_a_burst_of_frames_within_a_second_is_served(live, stack):
    """An app sending what it queued offline (120 messages at once) is not cut off."""
    user = sign_in(live.url)
    room = general_room(user)
    ws = opened(live.url, user.token, stack)
    for n in range(120):
        ws.send(json.dumps({"type": "send", "room": room, "text": f"queued {n}", "client_id": f"q{n}"}))
    acks = set()
    while len(acks) < 120:
        frame = json.loads(ws.recv(timeout=WAIT))
        assert frame["type"] != "error", frame
        if frame["type"] == "ack":
            acks.add(frame["client_id"])

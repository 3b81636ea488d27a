"""One signed-in account must not be able to take the chat down for everyone else.

Each test plays a registered user in bad faith against the real processes (the contract's "Limits
that protect everyone from one account"): long-polls that would each hold a backend thread,
more WebSockets than anyone needs, a flood of frames. Meanwhile another user's requests must stay
quick and correct.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.live_http import general_room, post, sign_in

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
    polls = f"{live.url}/api/events?after=999999999&wait=10"
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

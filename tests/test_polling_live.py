"""Live tests of long-polling ``GET /api/events``: the real backend and front server, over HTTP.

A poll whose ``after`` is the front server's current position is answered from the hub's memory;
any other is relayed to the backend. The client cannot tell which did: these tests hold the
answers to what the contract promises (every event of one's rooms once, in order, nothing else,
the bytes the backend itself would send), whichever way each poll went.
"""

from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.live_http import general_room, make_room, post
from tests.timing import wait_for
from tests.ws_client import Client

pytestmark = pytest.mark.live

WAIT = 10  # the long-poll's wait in seconds: far longer than any answer should take


def cursor(user: requests.Session) -> int:
    """The current position, as a client starting to poll asks for it."""
    answer = user.get(f"{user.base_url}/api/events", timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["pos"]


def poll(user: requests.Session, after: int, wait: float = WAIT) -> requests.Response:
    answer = user.get(f"{user.base_url}/api/events", params={"after": after, "wait": wait}, timeout=wait + 10)
    assert answer.status_code == 200, answer.text
    return answer


def poll_in_background(user: requests.Session, after: int) -> tuple[threading.Thread, list]:
    """Start one long-poll in a thread; its answer and the time it came land in the list."""
    result: list = []

    def run() -> None:
        answer = poll(user, after)
        result.extend([answer, time.monotonic()])

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    time.sleep(0.3)  # the poll is parked by now
    return thread, result


def test_a_caught_up_poll_answers_at_once_with_the_new_message(live_module, http_user) -> None:
    alice, bob = http_user("alice"), http_user("bob")
    room = make_room(alice, [bob])
    after = cursor(bob)
    thread, result = poll_in_background(bob, after)
    posted_at = time.monotonic()
    message = post(alice, room, "are you there?")
    thread.join(WAIT + 10)
    answer, answered_at = result
    assert answered_at - posted_at < 1.0
    body = answer.json()
    assert body == {
        "events": [{"type": "message", "pos": message["pos"], "message": message}],
        "pos": message["pos"],
        "more": False,
    }
    assert answer.headers["Content-Type"] == "application/json"
    # The very bytes the backend sends for the same events (asked without a wait, so relayed).
    assert poll(bob, after, wait=0).content == answer.content


def test_a_caught_up_poll_times_out_empty(live_module, http_user) -> None:
    carol = http_user("carol")
    after = cursor(carol)
    started = time.monotonic()
    answer = poll(carol, after, wait=0.5)
    assert time.monotonic() - started >= 0.5
    assert answer.json() == {"events": [], "pos": after, "more": False}


def test_a_caught_up_poll_needs_a_session(live_module, http_user) -> None:
    bob = http_user("bob")
    after = cursor(bob)
    answer = requests.get(f"{bob.base_url}/api/events", params={"after": after, "wait": 1}, timeout=10)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthenticated"
    signed_out = requests.get(
        f"{bob.base_url}/api/events",
        params={"after": after, "wait": 1},
        cookies={"chat_session": "not-a-session"},
        timeout=10,
    )
    assert signed_out.status_code == 401


def test_bad_parameters_get_the_backends_answer(live_module, http_user) -> None:
    bob = http_user("bob")
    after = cursor(bob)
    for params in ({"after": after, "wait": 31}, {"after": -1, "wait": 1}, {"after": after, "wait": "x"}):
        answer = bob.get(f"{bob.base_url}/api/events", params=params, timeout=10)
        assert answer.status_code == 422, params
        assert answer.json()["error"]["code"] == "validation_error"


def test_a_poll_chain_gets_every_message_of_its_rooms_once_in_order(live_module, http_user) -> None:
    poller = http_user("poller")
    senders = [http_user(f"sender{i}") for i in range(3)]
    shared = make_room(senders[0], [poller, *senders[1:]])
    small = make_room(senders[1], [poller])
    secret = make_room(senders[2], senders[:2])  # the poller is not in it
    late = make_room(senders[0], senders[1:])  # the poller is added half way
    rooms = {shared: senders, small: [senders[1]], secret: senders, late: senders}
    after = cursor(poller)
    got: list[dict] = []
    answers: list[tuple[int, int]] = []  # (after, pos) of each answer
    done = threading.Event()

    def chain() -> None:
        nonlocal after
        while not done.is_set():
            body = poll(poller, after, wait=2).json()
            got.extend(body["events"])
            answers.append((after, body["pos"]))
            after = body["pos"]

    watcher = threading.Thread(target=chain, daemon=True)
    watcher.start()
    stored: list[dict] = []
    lock = threading.Lock()

    def send(index: int) -> None:
        sender = senders[index]
        mine = [r for r, members in rooms.items() if sender in members]
        for k in range(67 if index else 66):
            message = post(sender, mine[k % len(mine)], f"{sender.username} #{k}")
            with lock:
                stored.append(message)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    added = senders[0].post(
        f"{senders[0].base_url}/api/rooms/{late}/members", json={"username": poller.username}, timeout=10
    )
    assert added.status_code == 200, added.text
    for thread in threads:
        thread.join(60)
    assert len(stored) == 200
    last = max(m["pos"] for m in stored)
    wait_for(lambda: answers and answers[-1][1] >= last, 20)  # the poller's cursor passed every message
    time.sleep(0.5)  # anything extra would arrive now
    done.set()
    watcher.join(10)
    room_events = [e for e in got if e["type"] == "room"]
    assert [(e["room"]["id"], e["user"]) for e in room_events] == [(late, poller.username)]
    joined_at = room_events[0]["pos"]
    expected = sorted(
        (m for m in stored if m["room"] in (shared, small) or (m["room"] == late and m["pos"] > joined_at)),
        key=lambda m: m["pos"],
    )
    assert [e["message"] for e in got if e["type"] == "message"] == expected
    positions = [e["pos"] for e in got]
    assert positions == sorted(set(positions))  # strictly increasing: none repeated, none reordered
    for (asked, pos), (next_after, _) in zip(answers, answers[1:], strict=False):
        assert pos >= asked and next_after == pos


def test_polling_carries_on_across_a_backend_restart(live, http_user) -> None:
    alice, bob = http_user("alice"), http_user("bob")
    room = make_room(alice, [bob])
    live.backend.kill9()
    live.backend.restart()
    after = cursor(bob)
    thread, result = poll_in_background(bob, after)
    message = post(alice, room, "back again")
    thread.join(WAIT + 10)
    assert result[0].json()["events"] == [{"type": "message", "pos": message["pos"], "message": message}]
    after = result[0].json()["pos"]
    thread, result = poll_in_background(bob, after)
    second = post(alice, room, "and again")
    thread.join(WAIT + 10)
    assert [e["message"] for e in result[0].json()["events"]] == [second]


def test_polls_behind_the_hub_wait_in_memory_not_on_backend_threads(
    start_backend, start_front, http_user
) -> None:
    """Polls whose cursor lags only by other rooms' events must not hold the backend's threads.

    The backend gets two request threads. Six people poll from a cursor that busy rooms they are
    not in have since moved past; if those polls waited on the backend, they would take its two
    threads and the next message could not even be stored.
    """
    backend = start_backend(None, "--threads", "2")
    front = start_front(backend)
    carol = http_user("carol", url=front.url)
    pollers = [http_user(f"poller{i}", url=front.url) for i in range(6)]
    start = cursor(carol)
    busy = make_room(carol, [])  # a private room none of the pollers is in
    for n in range(5):
        post(carol, busy, f"busy {n}")
    general = general_room(carol)
    waiting = [poll_in_background(user, start) for user in pollers]
    message = post(carol, general, "everyone still there?")  # fails with 503 if threads are held
    for thread, result in waiting:
        thread.join(WAIT + 10)
        answer = result[0].json()
        assert [e["message"]["id"] for e in answer["events"] if e["type"] == "message"] == [message["id"]]


def test_typing_over_http_reaches_polls_and_websockets_and_is_never_stored(
    live_module, http_user, stack
) -> None:
    alice, bob, carol = http_user("alice"), http_user("bob"), http_user("carol")
    room = make_room(alice, [bob, carol])
    public = make_room(alice, [], visibility="public")
    c = Client(stack, carol)  # carol is on a WebSocket, bob polls
    after = cursor(bob)
    thread, result = poll_in_background(bob, after)
    typed = alice.post(f"{alice.base_url}/api/rooms/{room}/typing", timeout=10)
    assert typed.status_code == 204 and typed.content == b""
    thread.join(WAIT + 10)
    notice = {"type": "typing", "room": room, "user": alice.username}
    assert result[0].json() == {"events": [], "pos": after, "more": False, "signals": [notice]}
    assert c.expect("typing") == notice
    # Ephemeral: the log has nothing new, so a catch-up from before it finds nothing.
    assert poll(bob, after, wait=0).json() == {"events": [], "pos": after, "more": False}

    # The hub's rules, as for a typing frame: members only, the cookie first.
    dave = http_user("dave")
    refused = [
        (requests.post, room, 401),  # no cookie
        (carol.post, public, 403),  # a public room she has not joined
        (carol.post, "no-such-room", 404),
        (dave.post, room, 404),  # a private room he is not in does not exist for him
    ]
    for send, target, status in refused:
        answer = send(f"{alice.base_url}/api/rooms/{target}/typing", timeout=10)
        assert answer.status_code == status, answer.text
        assert answer.headers["Content-Type"] == "application/json"
    # Over the limit (3 a second) extra notices are dropped, still answered 204.
    answers = [
        alice.post(f"{alice.base_url}/api/rooms/{room}/typing", timeout=10).status_code for _ in range(6)
    ]
    assert answers == [204] * 6

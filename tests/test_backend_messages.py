"""The backend's HTTP API, messages and history: history pages and their queries, who may read
them, posting with idempotent client ids, seq and pos, field limits and the message rate limit."""

from __future__ import annotations

import threading
import time

import orjson
import pytest

from tests.backend_fixtures import (
    ISO_MS_Z,
    Caller,
    callers,
    check_error,
    check_retry_after,
    current_pos,
    general,
    new_room,
    page,
    say,
)

# -- messages ---------------------------------------------------------------------------------


@pytest.fixture
def room_of_60(users) -> str:
    """A public room of alice's holding messages seq 1 to 60."""
    room = new_room(users.alice, "history")
    for n in range(1, 61):
        assert say(users.alice, room["id"], f"message {n}", f"c{n}").status_code == 201
    return room["id"]


def test_history_pages(users, room_of_60):
    cases = {
        "": range(11, 61),  # the latest 50 by default
        "?limit=1": [60],
        "?limit=200": range(1, 61),
        "?after=0": range(1, 51),
        "?after=55": range(56, 61),
        "?after=59&limit=1": [60],
        "?after=60": [],
        "?before=1": [],
        "?before=3": [1, 2],
        "?before=30&limit=5": range(25, 30),
        "?before=61&limit=200": range(1, 61),
    }
    for query, expected in cases.items():
        assert page(users.alice, room_of_60, query) == (list(expected), 60), query


def test_history_messages_are_the_stored_ones(users, room_of_60):
    messages = users.bob.get(f"/api/rooms/{room_of_60}/messages?after=4&limit=2").get_json()["messages"]
    assert [(m["text"], m["client_id"], m["sender"], m["room"]) for m in messages] == [
        ("message 5", "c5", "alice", room_of_60),
        ("message 6", "c6", "alice", room_of_60),
    ]


@pytest.mark.parametrize(
    "query",
    [
        "?after=1&before=5",
        "?limit=0",
        "?limit=201",
        "?limit=-1",
        "?limit=ten",
        "?after=-1",
        "?after=x",
        "?before=-1",
    ],
)
def test_history_refuses_bad_queries(users, room_of_60, query):
    check_error(users.alice.get(f"/api/rooms/{room_of_60}/messages{query}"), 422, "validation_error")


def test_history_visibility(users):
    public = new_room(users.alice, "pub")
    private = new_room(users.alice, "priv", "private")
    dm = users.alice.post("/api/dms", {"username": "bob"}).get_json()["room"]
    for room in (public, private, dm):
        say(users.alice, room["id"], "hello", "c1")
    assert page(users.dave, public["id"]) == ([1], 1)  # a public room is readable by anyone signed in
    for room_id in (private["id"], dm["id"], "r-unknown"):
        check_error(users.dave.get(f"/api/rooms/{room_id}/messages"), 404, "not_found")
    assert page(users.bob, dm["id"]) == ([1], 1)


def test_post_message(users):
    room = new_room(users.alice, "talk", "public", ["bob"])
    answer = say(users.alice, room["id"], "hello there", "client-1")
    assert answer.status_code == 201
    message = answer.get_json()["message"]
    assert set(message) == {"id", "room", "seq", "pos", "sender", "text", "ts", "client_id"}
    assert (message["room"], message["seq"], message["sender"]) == (room["id"], 1, "alice")
    assert (message["text"], message["client_id"]) == ("hello there", "client-1")
    assert ISO_MS_Z.match(message["ts"])
    assert "hello" not in message["id"] and message["id"] != room["id"]
    assert message["pos"] == current_pos(users.alice)

    again = say(users.alice, room["id"], "a different text", "client-1")
    assert again.status_code == 200 and again.get_json()["message"] == message
    assert page(users.alice, room["id"]) == ([1], 1)  # stored once
    by_bob = say(users.bob, room["id"], "hello there", "client-1")  # same id, another sender
    assert by_bob.status_code == 201 and by_bob.get_json()["message"]["seq"] == 2


def test_concurrent_retries_of_one_client_id_store_one_message(backend_app, users):
    room_id = general(users.alice)["id"]
    answers = []
    start = threading.Barrier(8)

    def send() -> None:
        alice = Caller(backend_app.test_client(), "alice", users.alice.token)
        start.wait()
        answers.append(say(alice, room_id, "only once", "same-client-id"))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(answer.status_code for answer in answers) == [200] * 7 + [201]
    assert len({orjson.dumps(answer.get_json()["message"]) for answer in answers}) == 1  # one message
    # A call hands back the events appended while it ran: here only ever the one message's.
    handed = [answer.get_json().get("addressed") for answer in answers]
    assert all(
        items is None or [item["event"]["message"]["client_id"] for item in items] == ["same-client-id"]
        for items in handed
    )
    assert handed[[a.status_code for a in answers].index(201)] is not None
    assert page(users.alice, room_id) == ([1], 1)


def test_seq_per_room_and_pos_across_rooms(users):
    one = new_room(users.alice, "one")
    two = new_room(users.alice, "two")
    seen = []
    for n in range(1, 4):
        for room in (one, two):
            seen.append(say(users.alice, room["id"], f"n{n}", f"c{n}").get_json()["message"])
    assert [(m["room"], m["seq"]) for m in seen] == [(r["id"], n) for n in range(1, 4) for r in (one, two)]
    positions = [m["pos"] for m in seen]
    assert positions == sorted(positions) and len(set(positions)) == 6
    assert users.alice.get(f"/api/rooms/{one['id']}").get_json()["room"]["last_seq"] == 3


@pytest.mark.parametrize(
    "body",
    [
        {"text": "hi"},
        {"text": "hi", "client_id": ""},
        {"text": "hi", "client_id": "has space"},
        {"text": "hi", "client_id": "x" * 65},
        {"text": "hi", "client_id": 7},
        {"text": "", "client_id": "c1"},
        {"text": " \t\n\u3000 ", "client_id": "c1"},
        {"text": None, "client_id": "c1"},
        {"client_id": "c1"},
        {"text": "😀" * 4001, "client_id": "c1"},
        {"text": "a" * 4001, "client_id": "c1"},
    ],
)
def test_post_message_refuses_bad_fields(users, body):
    room_id = general(users.alice)["id"]
    check_error(users.alice.post(f"/api/rooms/{room_id}/messages", body), 422, "validation_error")
    assert page(users.alice, room_id) == ([], 0)


def test_post_message_length_edges(users):
    room_id = general(users.alice)["id"]
    long_emoji = say(users.alice, room_id, "😀" * 4000, "x" * 64)  # code points, not UTF-16 units
    assert long_emoji.status_code == 201
    assert long_emoji.get_json()["message"]["text"] == "😀" * 4000
    assert say(users.alice, room_id, "a" * 4000, "A_z-9").status_code == 201
    assert say(users.alice, room_id, "  x  ", "c").status_code == 201


def test_post_message_needs_membership(users):
    public = new_room(users.alice, "pub")
    private = new_room(users.alice, "priv", "private")
    check_error(say(users.dave, public["id"], "hi", "c1"), 403, "not_a_member")
    check_error(say(users.dave, private["id"], "hi", "c1"), 404, "not_found")
    check_error(say(users.dave, "r-unknown", "hi", "c1"), 404, "not_found")
    assert page(users.alice, public["id"]) == ([], 0)


def test_messages_are_rate_limited_by_default_but_retries_still_answer(users):
    room_id = general(users.alice)["id"]
    started = time.monotonic()
    for n in range(1000):  # a burst of 300, then 10 a second: the refill while posting counts too
        answer = say(users.alice, room_id, f"m{n}", f"c{n}")
        if answer.status_code != 201:
            break
    elapsed = time.monotonic() - started
    check_retry_after(answer, 1)
    assert 300 <= n <= 300 + 10 * elapsed + 1, (n, elapsed)
    retry = say(users.alice, room_id, "m7", "c7")  # a client retrying a message that was stored
    assert retry.status_code == 200 and retry.get_json()["message"]["seq"] == 8
    assert say(users.bob, room_id, "bob is not limited by alice", "b1").status_code == 201
    assert page(users.alice, room_id, "?limit=1")[1] == n + 1


def test_message_limit_is_configurable(make_backend_app):
    people = callers(make_backend_app({"MESSAGE_BURST": 3, "MESSAGE_RATE": 0.5}))
    room_id = general(people.alice)["id"]
    for n in range(3):
        assert say(people.alice, room_id, "hi", f"c{n}").status_code == 201
    check_retry_after(say(people.alice, room_id, "hi", "c3"), 2)

"""Live tests of ``/ws``: the real backend and front server, driven with the ``websockets`` client.

Each test speaks to the front server the way a browser would: the session cookie on the
handshake, the page's own ``Origin``, JSON text frames. This module covers chatting, fan-out and
ordering; ``test_ws_faults.py`` covers bad input, refused handshakes, sign-out and outages.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack

import pytest

from tests.live_http import make_room, post
from tests.ws_client import Client

pytestmark = pytest.mark.live


def test_two_users_chat(live_module, http_user, stack) -> None:
    alice, bob = http_user("alice"), http_user("bob")
    room = make_room(alice, [bob])
    a, b = Client(stack, alice), Client(stack, bob)
    a.send({"type": "send", "room": room, "text": "hi bob", "client_id": "a-1"})
    ack, _ = a.ack_and_echo()
    assert ack["client_id"] == "a-1" and ack["message"]["text"] == "hi bob"
    assert b.expect("message")["message"] == ack["message"]
    b.send({"type": "send", "room": room, "text": "hi alice", "client_id": "b-1"})
    assert b.ack_and_echo()[0]["message"]["seq"] == 2
    got = a.expect("message")
    assert got["message"]["text"] == "hi alice" and got["pos"] > ack["message"]["pos"]
    # The same client_id again: one stored message, a second ack of it, no second broadcast.
    a.send({"type": "send", "room": room, "text": "hi bob", "client_id": "a-1"})
    assert a.expect("ack")["message"] == ack["message"]
    assert b.quiet() == []


def test_typing_and_presence(live_module, http_user, stack) -> None:
    alice, bob = http_user("alice"), http_user("bob")
    room = make_room(alice, [bob])
    b = Client(stack, bob)
    a = Client(stack, alice)
    a.send({"type": "typing", "room": room})
    assert b.expect("typing") == {"type": "typing", "room": room, "user": alice.username}
    assert a.quiet() == []
    assert {"type": "presence", "user": alice.username, "online": True} in b.presence


def test_non_member_gets_nothing_of_a_private_room(live_module, http_user, stack) -> None:
    alice, bob, carol = http_user("alice"), http_user("bob"), http_user("carol")
    secret, shared = make_room(alice, [bob]), make_room(alice, [carol])
    c = Client(stack, carol)
    post(alice, secret, "not for carol")
    marker = post(alice, shared, "for carol")
    # Events come in pos order: whatever of the private room reached her would come first.
    assert c.expect("message")["message"]["id"] == marker["id"]
    c.send({"type": "typing", "room": secret})
    assert c.expect("error")["error"]["code"] == "not_found"


def test_membership_changes_apply_to_open_connections(live_module, http_user, stack) -> None:
    alice, carol = http_user("alice"), http_user("carol")
    room, elsewhere = make_room(alice, []), make_room(alice, [carol])
    c = Client(stack, carol)  # opened before she is in the room
    post(alice, room, "before carol")
    added = alice.post(
        f"{alice.base_url}/api/rooms/{room}/members", json={"username": carol.username}, timeout=10
    )
    assert added.status_code == 200
    event = c.expect("room")
    assert event["room"]["id"] == room and carol.username in event["room"]["members"]
    welcome = post(alice, room, "welcome")
    assert c.expect("message")["message"] == welcome
    left = carol.delete(f"{carol.base_url}/api/rooms/{room}/members/{carol.username}", timeout=10)
    assert left.status_code == 204
    event = c.expect("room")  # the event that removes her reaches her too
    assert event["room"]["id"] == room and carol.username not in event["room"]["members"]
    post(alice, room, "after carol")
    marker = post(alice, elsewhere, "marker")
    assert c.expect("message")["message"]["id"] == marker["id"]


def test_reconnect_with_after_fills_the_gap_exactly(live_module, http_user, stack) -> None:
    alice, bob = http_user("alice"), http_user("bob")
    room = make_room(alice, [bob])
    total = 60
    poster = threading.Thread(target=lambda: [post(bob, room, f"m{i}") for i in range(total)])
    first = ExitStack()
    a = Client(first, alice)
    seen = []
    poster.start()
    while len(seen) < 15:  # then drop the connection in the middle of the stream
        seen.append(a.expect("message"))
    first.close()
    a = Client(stack, alice, after=seen[-1]["pos"])
    assert a.hello["pos"] == seen[-1]["pos"]
    while len(seen) < total:
        seen.append(a.expect("message"))
    poster.join()
    assert [m["message"]["seq"] for m in seen] == list(range(1, total + 1))
    positions = [m["pos"] for m in seen]
    assert positions == sorted(set(positions))
    assert a.quiet() == []


@pytest.mark.slow
def test_many_senders_reach_every_member_once_in_order(live_module, http_user, stack) -> None:
    senders, each = 20, 100
    users = [http_user(f"s{i}") for i in range(senders)]
    watcher = http_user("watcher")
    room = make_room(users[0], users[1:] + [watcher])
    clients = [Client(stack, u) for u in users] + [Client(stack, watcher)]
    results: dict[int, tuple[list[int], int]] = {}
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            client = clients[index]
            if index < senders:
                for n in range(each):
                    client.send(
                        {"type": "send", "room": room, "text": f"{index}:{n}", "client_id": f"c{index}-{n}"}
                    )
            seqs, acks = [], 0
            while len(seqs) < senders * each or (index < senders and acks < each):
                frame = client.recv(timeout=30)
                if frame["type"] == "message":
                    seqs.append(frame["message"]["seq"])
                elif frame["type"] == "ack":
                    acks += 1
                else:
                    # Others signing up join general after the hub's pos that this hello carried.
                    assert frame["type"] == "room" and frame["room"]["name"] == "general", frame
            results[index] = (seqs, acks)
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert not failures, failures[:3]
    for seqs, _ in results.values():
        assert seqs == list(range(1, senders * each + 1))
    assert len(results) == senders + 1


def test_a_rest_posted_message_reaches_websockets(live_module, http_user, stack) -> None:
    alice, bob = http_user("alice"), http_user("bob")
    room = make_room(alice, [bob])
    b = Client(stack, bob)
    sent = post(alice, room, "over http")
    assert b.expect("message")["message"] == sent


def test_a_dm_opened_by_alice_reaches_bobs_socket(live_module, http_user, stack) -> None:
    alice, bob = http_user("alice"), http_user("bob")
    b = Client(stack, bob)
    answer = alice.post(f"{alice.base_url}/api/dms", json={"username": bob.username}, timeout=10)
    assert answer.status_code == 201
    event = b.expect("room")
    assert event["room"]["id"] == answer.json()["room"]["id"]
    assert event["room"]["kind"] == "dm" and sorted(event["room"]["members"]) == sorted(
        [alice.username, bob.username]
    )

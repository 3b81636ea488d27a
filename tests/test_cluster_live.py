"""Several front servers on one backend and one real Redis: everything crosses between them.

Two and three ``MainWServer.py --redis URL`` processes on one ``backend.py``: a message sent
through one reaches the members on the others, a typing notice and presence cross, and the event
cursor is one for all of them (``/ws?after=`` and ``GET /api/events``, parked polls included,
resume on any front server with no gap and no repeat). The faults (a front server killed, Redis
away, the backend restarted) are in ``test_cluster_faults.py``.
"""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import requests
from websockets.exceptions import ConnectionClosed

from tests.live_http import TIMEOUT, make_room, park_poll, sign_in
from tests.ws_client import Client

pytestmark = pytest.mark.live

# Seconds within which presence must cross to another front server: a sync every second, plus a
# busy two-core machine's margin.
PRESENCE_CROSSES = 5.0

# Seconds within which a closed WebSocket's user goes offline everywhere: the 5 s grace, the
# sweep's second, the sync's second, and margin.
OFFLINE_WITHIN = 9.0


def post_via(url: str, user: requests.Session, room: str, text: str) -> dict:
    """Post ``text`` to ``room`` through the front server at ``url``; the stored message."""
    answer = user.post(
        f"{url}/api/rooms/{room}/messages",
        json={"text": text, "client_id": uuid.uuid4().hex},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["message"]


def online_via(url: str, user: requests.Session) -> set[str]:
    """The users ``GET /api/users`` shows online through the front server at ``url``."""
    answer = user.get(f"{url}/api/users", timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    return {entry["username"] for entry in answer.json()["users"] if entry["online"]}


def wait_for(predicate, timeout: float, what: str) -> float:
    """Poll ``predicate`` until true; the seconds it took. Fails naming ``what`` at the timeout."""
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout, f"{what} not within {timeout} s"
        time.sleep(0.05)
    return time.monotonic() - start


def presence_of(client: Client, user: str, online: bool, timeout: float) -> dict:
    """The presence frame saying ``user`` is ``online``, read from ``client`` within ``timeout``."""
    return client.until(
        lambda f: f["type"] == "presence" and f["user"] == user and f["online"] is online, timeout
    )


@pytest.mark.parametrize("fronts", [2, 3])
def test_a_message_typing_and_presence_cross_front_servers(cluster, stack, fronts):
    chat = cluster(fronts)
    first, last = chat.urls[0], chat.urls[-1]
    people = [sign_in(url) for url in chat.urls]  # one person per front server
    before = people[0].get(f"{first}/api/events", timeout=TIMEOUT).json()["pos"]
    room = make_room(people[0], people[1:])
    clients = [Client(stack, person, after=before) for person in people]
    for client in clients:  # each hub has the room once it has passed its creation on to its member
        client.until(lambda frame: frame.get("type") == "room" and frame["room"]["id"] == room)

    # A message sent over the WebSocket on the first front server reaches everyone, everywhere.
    clients[0].send({"type": "send", "room": room, "text": "hello all", "client_id": "c-1"})
    ack, echo = clients[0].ack_and_echo()
    for client in clients[1:]:
        frame = client.expect("message")
        assert frame["message"]["text"] == "hello all"
        assert frame["pos"] == echo["pos"]

    # A typing notice on the last front server reaches the others, never its sender.
    clients[-1].send({"type": "typing", "room": room})
    for client in clients[:-1]:
        assert client.expect("typing") == {"type": "typing", "room": room, "user": people[-1].username}
    assert clients[-1].quiet() == []

    # Someone new comes online on the last front server: the first one's people see it, and its
    # user list says so; when they leave, they go offline everywhere.
    newcomer = sign_in(last)
    with Client(stack, newcomer).ws as socket:
        presence_of(clients[0], newcomer.username, True, PRESENCE_CROSSES)
        assert newcomer.username in online_via(first, people[0])
        socket.close()
    presence_of(clients[0], newcomer.username, False, OFFLINE_WITHIN)
    assert newcomer.username not in online_via(first, people[0])
    # Everyone here was seen online by every front server.
    for url in chat.urls:
        assert {p.username for p in people} <= online_via(url, people[0])


def test_a_reload_onto_another_front_server_does_not_flap_presence(cluster, stack):
    chat = cluster(2)
    watcher = sign_in(chat.urls[0])
    watching = Client(stack, watcher)
    mover = sign_in(chat.urls[0])
    first = Client(stack, mover)
    presence_of(watching, mover.username, True, PRESENCE_CROSSES)
    # The page reloads and its new socket lands on the other front server a moment later.
    first.ws.close()
    time.sleep(0.5)
    Client(stack, mover, url=chat.urls[1])
    time.sleep(OFFLINE_WITHIN)
    assert [f for f in watching.presence if f["user"] == mover.username and not f["online"]] == []
    assert mover.username in online_via(chat.urls[0], watcher)


def test_a_websocket_resumes_on_another_front_server_with_no_gap(cluster, stack):
    chat = cluster(3)
    alice = sign_in(chat.urls[0])
    bob = sign_in(chat.urls[1])
    room = make_room(alice, [bob])
    on_first = Client(stack, alice)
    sent = [post_via(chat.urls[1], bob, room, f"before {n}") for n in range(3)]
    seen = [on_first.expect("message")["pos"] for _ in sent]
    on_first.ws.close()

    # While alice is away, messages go in through every front server.
    missed = [post_via(chat.urls[n % 3], bob, room, f"away {n}") for n in range(6)]
    # She comes back on the third front server with the last pos she saw.
    again = Client(stack, alice, after=seen[-1], url=chat.urls[2])
    assert again.hello["pos"] == seen[-1]
    replayed = [again.expect("message")["message"] for _ in missed]
    assert [m["id"] for m in replayed] == [m["id"] for m in missed]
    # Then live ones, through yet another front server, with no seam.
    live = post_via(chat.urls[0], bob, room, "live")
    assert again.expect("message")["message"]["id"] == live["id"]
    assert again.quiet() == []


def test_polls_alternating_over_front_servers_see_every_event_once_in_order(cluster):
    chat = cluster(3)
    alice = sign_in(chat.urls[0])
    bob = sign_in(chat.urls[1])
    room = make_room(alice, [bob])
    pos = alice.get(f"{chat.urls[0]}/api/events", timeout=TIMEOUT).json()["pos"]
    expected: list[str] = []
    received: list[dict] = []
    stop = threading.Event()

    def send() -> None:
        for n in range(30):
            expected.append(post_via(chat.urls[n % 3], bob, room, f"m{n}")["id"])
            time.sleep(0.03)
        stop.set()

    sender = threading.Thread(target=send)
    sender.start()
    # Each long-poll goes to the next front server with the cursor the last one returned: most
    # are parked in a hub's memory, some land on a front server a moment behind another.
    turn = 0
    while not (stop.is_set() and len(received) >= 30):
        url = chat.urls[turn % 3]
        turn += 1
        answer = alice.get(f"{url}/api/events", params={"after": pos, "wait": 5}, timeout=TIMEOUT + 5)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        received += [e for e in body["events"] if e["type"] == "message"]
        positions = [e["pos"] for e in body["events"]]
        assert positions == sorted(positions) and all(p > pos for p in positions)
        pos = body["pos"]
        assert turn < 500, "the polls never caught up"
    sender.join()
    assert [e["message"]["id"] for e in received] == expected


def alice_parked_on_the_first(cluster):
    """Two front servers, alice and bob in a room, alice's caught-up long-poll parked on the first:
    the servers, bob (signed in on the second), the room, and the poll's thread and answers."""
    chat = cluster(2)
    alice, bob = sign_in(chat.urls[0]), sign_in(chat.urls[1])
    room = make_room(alice, [bob])
    return (chat, bob, room, *park_poll(chat.urls[0], alice))


def test_a_caught_up_poll_parked_on_one_front_server_gets_a_message_sent_through_another(cluster):
    chat, bob, room, poll, answers = alice_parked_on_the_first(cluster)
    started = time.monotonic()
    message = post_via(chat.urls[1], bob, room, "to the parked poll")
    poll.join()
    assert time.monotonic() - started < 10, "the parked poll waited out its timeout"
    assert [e["message"]["id"] for e in answers[0]["events"]] == [message["id"]]


def test_typing_posted_on_one_front_server_wakes_a_poll_parked_on_another(cluster):
    chat, bob, room, poll, answers = alice_parked_on_the_first(cluster)
    started = time.monotonic()
    typed = bob.post(f"{chat.urls[1]}/api/rooms/{room}/typing", timeout=TIMEOUT)
    assert typed.status_code == 204
    poll.join()
    assert time.monotonic() - started < 10, "the parked poll waited out its timeout"
    assert answers[0]["signals"] == [{"type": "typing", "room": room, "user": bob.username}]
    assert answers[0]["events"] == []


def test_signing_out_on_one_front_server_closes_the_sessions_sockets_on_the_others(cluster, stack):
    chat = cluster(3)
    alice = sign_in(chat.urls[0])
    sockets = [Client(stack, alice, url=url) for url in chat.urls]
    answer = alice.delete(f"{chat.urls[0]}/api/session", timeout=TIMEOUT)
    assert answer.status_code == 204
    deadline = time.monotonic() + 1.0
    assert [closed_by(client, deadline) for client in sockets] == [True] * len(sockets)


def closed_by(client: Client, deadline: float) -> bool:
    """Whether the server closes ``client``'s socket before ``deadline`` (frames before it are read)."""
    while True:
        try:
            client.frame(timeout=max(0.01, deadline - time.monotonic()))
        except ConnectionClosed:
            return True
        except TimeoutError:
            return False


def test_two_workers_on_one_port_are_two_front_servers_that_share_everything(
    redis_server, start_backend, start_front, stack
):
    backend = start_backend()
    front = start_front(backend, "--redis", redis_server.url, "--workers", "2")
    with redis_server.client() as store:
        # Both workers joined (each follows the log and syncs presence from its start).
        wait_for(lambda: store.zcard("chat:fronts") == 2, 10, "both workers in Redis")
        workers = [member.decode() for member in store.zrange("chat:fronts", 0, -1)]

        # People connect until each worker holds at least one (the kernel picks the worker).
        people: list[requests.Session] = []
        clients: dict[str, Client] = {}

        def held_by(worker: str) -> set[str]:
            return {name.decode() for name in store.smembers(f"chat:online:{worker}")}

        while not all(held_by(worker) for worker in workers):
            assert len(people) < 40, "every connection went to one worker"
            person = sign_in(front.url)
            people.append(person)
            clients[person.username] = Client(stack, person)
            time.sleep(0.2)
        wait_for(
            lambda: set().union(*(held_by(w) for w in workers)) >= {p.username for p in people},
            PRESENCE_CROSSES,
            "everyone in a worker's online set",
        )
        one = next(iter(held_by(workers[0]) - held_by(workers[1])))
        other = next(iter(held_by(workers[1]) - held_by(workers[0])))
    by_name = {p.username: p for p in people}
    room = make_room(by_name[one], [by_name[other]])
    for name in (one, other):  # each worker knows the room once it has passed its creation on
        clients[name].until(lambda f: f["type"] == "room" and f["room"]["id"] == room)
    clients[one].send({"type": "typing", "room": room})
    assert clients[other].until(lambda f: f["type"] == "typing")["user"] == one
    clients[one].send({"type": "send", "room": room, "text": "across workers", "client_id": "w-1"})
    assert clients[other].until(lambda f: f["type"] == "message")["message"]["text"] == "across workers"
    # Each worker reads the other's online set within a sync; the message may well come sooner.
    wait_for(
        lambda: {one, other} <= online_via(front.url, by_name[one]),
        PRESENCE_CROSSES,
        "both online, whichever worker answers",
    )
    # One ready line for the whole server, not one per worker.
    assert sum("http://" in line for line in front.lines()) == 1

"""Live tests of ``/ws``: the real backend and front server, driven with the ``websockets`` client.

Each test speaks to the front server the way a browser would: the session cookie on the
handshake, the page's own ``Origin``, JSON text frames.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from contextlib import ExitStack

import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

pytestmark = pytest.mark.live

WAIT = 10.0  # seconds any single expected frame may take on a busy two-core machine


class Client:
    """One WebSocket of a signed-in user; frames are read as dicts, presence frames kept apart."""

    def __init__(self, stack: ExitStack, user: requests.Session, after: int | None = None, **kw):
        query = "" if after is None else f"?after={after}"
        url = user.base_url.replace("http://", "ws://") + "/ws" + query
        cookie = f"chat_session={user.cookies['chat_session']}"
        self.user = user
        self.ws = stack.enter_context(
            connect(url, additional_headers={"Cookie": cookie}, origin=user.base_url, max_queue=None, **kw)
        )
        self.presence: list[dict] = []
        self.hello = self.recv()
        assert self.hello["type"] == "hello" and self.hello["user"]["username"] == user.username

    def send(self, frame: dict) -> None:
        self.ws.send(json.dumps(frame))

    def recv(self, timeout: float = WAIT) -> dict:
        """The next frame other than presence (every frame must be a JSON object)."""
        while True:
            frame = json.loads(self.ws.recv(timeout=timeout))
            assert isinstance(frame, dict)
            if frame["type"] != "presence":
                return frame
            self.presence.append(frame)

    def expect(self, kind: str, timeout: float = WAIT) -> dict:
        frame = self.recv(timeout)
        assert frame["type"] == kind, frame
        return frame

    def ack_and_echo(self) -> tuple[dict, dict]:
        """The ack of a send and its broadcast to this same connection, which may come first."""
        frames = {f["type"]: f for f in (self.recv(), self.recv())}
        assert set(frames) == {"ack", "message"}, frames
        assert frames["ack"]["message"] == frames["message"]["message"]
        return frames["ack"], frames["message"]

    def quiet(self, timeout: float = 0.3) -> list[dict]:
        """Frames (other than presence) that arrive within ``timeout``; usually expected to be none."""
        frames = []
        try:
            while True:
                frames.append(self.recv(timeout))
        except TimeoutError:
            return frames


@pytest.fixture
def stack():
    with ExitStack() as stack:
        yield stack


def make_room(owner: requests.Session, members: list[requests.Session], visibility: str = "private") -> str:
    answer = owner.post(
        f"{owner.base_url}/api/rooms",
        json={
            "name": f"room-{uuid.uuid4().hex[:6]}",
            "visibility": visibility,
            "members": [m.username for m in members],
        },
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["room"]["id"]


def post(user: requests.Session, room: str, text: str) -> dict:
    answer = user.post(
        f"{user.base_url}/api/rooms/{room}/messages",
        json={"text": text, "client_id": uuid.uuid4().hex},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["message"]


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
                else:
                    assert frame["type"] == "ack", frame
                    acks += 1
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


def test_bad_frames_get_errors_and_the_connection_stays(live_module, http_user, stack) -> None:
    alice, bob = http_user("alice"), http_user("bob")
    private, public = make_room(bob, []), make_room(bob, [], "public")
    mine = make_room(alice, [])
    a = Client(stack, alice)
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
    alice = http_user("alice")
    url = live_module.url.replace("http://", "ws://") + "/ws"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, origin=live_module.url, open_timeout=5).close()
    assert refused.value.response.status_code == 401
    cookie = {"Cookie": f"chat_session={alice.cookies['chat_session']}"}
    for origin in ("http://evil.example", "null"):
        with pytest.raises(InvalidStatus) as refused:
            connect(url, additional_headers=cookie, origin=origin, open_timeout=5).close()
        assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as refused:
        connect(
            url + "?after=soon", additional_headers=cookie, origin=live_module.url, open_timeout=5
        ).close()
    assert refused.value.response.status_code == 422
    with pytest.raises(InvalidStatus) as refused:  # a digit to str.isdigit(), not to int()
        connect(url + "?after=%C2%B2", additional_headers=cookie, open_timeout=5).close()
    assert refused.value.response.status_code == 422
    with connect(url, additional_headers=cookie, open_timeout=5) as ws:  # no Origin: a script
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

"""Messages after they are sent, through the real ``backend.py`` and ``MainWServer.py``.

Edits, reactions and deletions made over HTTP through the front server reach the room's members
over the WebSocket (live, and on ``/ws?after=`` catch-up) and over ``GET /api/events`` (a long-poll
parked in the hub, and a catch-up read from the backend) as ``update`` events carrying the message
as it is now; a client catching up from before a deleted message was sent sees only its tombstone.
Emoji in the path pass the relay intact however they are percent-encoded. A change that was
answered survives ``kill -9`` of the backend.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import threading
import time
from urllib.parse import quote, urlsplit

import pytest

from tests import ws_client
from tests.live_http import make_room, post
from tests.ws_client import Client

pytestmark = pytest.mark.live

stack = ws_client.stack


def base(user) -> str:
    return f"{user.base_url}/api/rooms"


def react(user, room: str, seq: int, emoji: str, add: bool = True):
    method = user.put if add else user.delete
    answer = method(f"{base(user)}/{room}/messages/{seq}/reactions/{quote(emoji, safe='')}", timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["message"]


def test_changes_reach_members_live_and_on_catch_up(live, http_user, stack):
    alice, bob, carol = http_user("alice"), http_user("bob"), http_user("carol")
    room = make_room(alice, [bob])
    start = alice.get(f"{alice.base_url}/api/events", timeout=10).json()["pos"]
    a, b, c = Client(stack, alice), Client(stack, bob), Client(stack, carol)
    first = post(alice, room, "the password is hunter2")
    assert b.expect("message")["message"] == first and a.expect("message")["message"] == first

    # A long-poll parked in the hub gets the update too.
    parked = {}
    poll = threading.Thread(
        target=lambda: parked.update(
            bob.get(
                f"{bob.base_url}/api/events",
                params={"after": first["pos"], "wait": 10},
                timeout=20,
            ).json()
        )
    )
    poll.start()
    answer = alice.patch(f"{base(alice)}/{room}/messages/1", json={"text": "hunter2 was a joke"}, timeout=10)
    assert answer.status_code == 200
    edited = answer.json()["message"]
    update = b.expect("update")
    assert update["message"] == edited and update["pos"] > first["pos"]
    assert a.expect("update") == update
    poll.join(20)
    assert parked["events"] == [update]

    for emoji in ("👍", ":+1:", "👨‍👩‍👧"):
        message = react(bob, room, 1, emoji)
        assert b.expect("update")["message"] == message and a.expect("update")["message"] == message
    assert [r["emoji"] for r in message["reactions"]] == ["👍", ":+1:", "👨‍👩‍👧"]
    # Escapes as a client may write them (lower-case hex, ':' and '+' escaped) reach the backend
    # decoded once, as the same emoji.
    for path, emoji in (("%f0%9f%8e%89", "🎉"), ("%3A%2B1%3A", ":+1:")):
        answer = bob.put(f"{base(bob)}/{room}/messages/1/reactions/{path}", timeout=10)
        assert answer.status_code == 200, answer.text
        users = {r["emoji"]: r["users"] for r in answer.json()["message"]["reactions"]}
        assert users[emoji] == [bob.username]  # the second is already there: no change
    b.expect("update")
    a.expect("update")
    assert [r["emoji"] for r in react(bob, room, 1, ":+1:", add=False)["reactions"]] == ["👍", "👨‍👩‍👧", "🎉"]
    b.expect("update")
    a.expect("update")

    assert alice.delete(f"{base(alice)}/{room}/messages/1", timeout=10).status_code == 204
    tombstone = b.expect("update")["message"]
    assert tombstone["deleted"] is True and tombstone["text"] == "" and "reactions" not in tombstone
    a.expect("update")
    assert c.quiet() == []  # carol is not in the room: she saw none of it

    # Catching up from before the message was sent: its message event is the tombstone.
    for user in (alice, bob):
        replay = Client(stack, user, after=start)
        frames = replay.quiet(2.0)
        assert "hunter2" not in json.dumps(frames)
        about = [f for f in frames if f.get("message", {}).get("seq") == 1 and f["message"]["room"] == room]
        assert about[0]["type"] == "message" and about[0]["pos"] == first["pos"]
        assert all(f["message"] == tombstone for f in about) and len(about) == 8
        polled = user.get(f"{user.base_url}/api/events", params={"after": start}, timeout=10)
        assert "hunter2" not in polled.text
    history = bob.get(f"{base(bob)}/{room}/messages", timeout=10).json()["messages"]
    assert history == [tombstone]
    assert carol.get(f"{base(carol)}/{room}/messages/1", timeout=10).status_code == 404

    # A reply over the WebSocket: the send frame takes reply_to, which the backend judges.
    b.send({"type": "send", "room": room, "text": "replying", "client_id": "re-1", "reply_to": 1})
    frames = {f["type"]: f for f in (b.recv(), b.recv())}
    assert frames["ack"]["message"]["reply_to"] == 1 == frames["message"]["message"]["reply_to"]
    b.send({"type": "send", "room": room, "text": "replying", "client_id": "re-2", "reply_to": 7})
    error = b.expect("error")
    assert error["client_id"] == "re-2" and error["error"]["code"] == "validation_error"


# Linux's SO_TIMESTAMPNS (and its SCM_ message), which the socket module does not name: each read
# comes with the time the kernel received its first byte, as a struct timespec.
SO_TIMESTAMPNS = 35


def raw_socket(url: str, head: str, token: str) -> socket.socket:
    """A socket to the front server at ``url`` that has sent ``head`` (a request: its line, headers
    and body) with the session cookie added; each read is stamped with its arrival (see below)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    host = f"Host: {parts.hostname}:{parts.port}\r\nCookie: chat_session={token}\r\n"
    sock.sendall(head.replace("\r\n", "\r\n" + host, 1).encode())
    return sock


def arrived(sock: socket.socket, quiet: float) -> tuple[bytes, int]:
    """Everything that comes on ``sock`` until nothing more does for ``quiet`` seconds (or it is
    closed), and when the kernel received its first byte (ns of CLOCK_REALTIME; 0 for nothing)."""
    data, first = b"", 0
    while select.select([sock], [], [], quiet)[0]:
        chunk, ancillary, _, _ = sock.recvmsg(1 << 20, socket.CMSG_SPACE(16))
        for level, kind, stamp in ancillary:
            if (level, kind) == (socket.SOL_SOCKET, SO_TIMESTAMPNS) and not first:
                seconds, nanoseconds = struct.unpack("qq", stamp[:16])
                first = seconds * 10**9 + nanoseconds
        if not chunk:
            break
        data += chunk
    return data, first


def test_the_room_gets_a_change_before_its_author_gets_the_answer(live, http_user):
    """The front server broadcasts a change it relays before it answers the call (as a message's
    frames go out in the turn that acks it): the kernel receives the member's ``update`` frame
    before the author's answer. Each edit may reach the hub by either path first (the relayed
    answer or the hub's feed), so several are made."""
    alice, bob = http_user("alice"), http_user("bob")
    room = make_room(alice, [bob])
    seqs = [post(alice, room, f"draft {n}")["seq"] for n in range(8)]
    upgrade = (
        "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with raw_socket(live.url, upgrade, bob.token) as ws:
        assert arrived(ws, 0.5)[0].startswith(b"HTTP/1.1 101")  # and the hello, presence
        for n, seq in enumerate(seqs):
            text = json.dumps({"text": f"edit {n}"})
            head = (
                f"PATCH /api/rooms/{room}/messages/{seq} HTTP/1.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(text)}\r\nConnection: close\r\n\r\n{text}"
            )
            with raw_socket(live.url, head, alice.token) as call:
                answer, answered = arrived(call, 0.5)
            frame, broadcast = arrived(ws, 0.2)
            assert answer.startswith(b"HTTP/1.1 200") and f'"text":"edit {n}"'.encode() in frame, frame
            assert 0 < broadcast < answered, (n, answered - broadcast)


def test_a_change_that_was_answered_survives_kill_9(live, http_user, data_dir):
    alice, bob = http_user("alice"), http_user("bob")
    room = make_room(alice, [bob], visibility="public")
    for text in ("one", "two", "three"):
        post(alice, room, text)
    assert alice.patch(f"{base(alice)}/{room}/messages/1", json={"text": "one, edited"}, timeout=10).ok
    react(bob, room, 2, "👍")
    assert alice.delete(f"{base(alice)}/{room}/messages/3", timeout=10).status_code == 204
    before = bob.get(f"{base(bob)}/{room}/messages", timeout=10).json()
    live.backend.kill9()
    live.backend.restart()
    after = None
    for _ in range(50):  # the front server reconnects to the restarted backend
        answer = bob.get(f"{base(bob)}/{room}/messages", timeout=10)
        if answer.status_code == 200:
            after = answer.json()
            break
        threading.Event().wait(0.2)
    assert after == before
    texts = [m["text"] for m in after["messages"]]
    assert texts == ["one, edited", "two", ""] and after["messages"][1]["reactions"][0]["emoji"] == "👍"


@pytest.mark.parametrize("how", ["flags", "environment"])
def test_the_edit_window_is_set_at_start(start_backend, start_front, http_user, how):
    if how == "flags":
        backend = start_backend(None, "--edit-window", "1")
    else:
        backend = start_backend(env={"CHAT_EDIT_WINDOW": "1"})
    front = start_front(backend)
    alice = http_user("window", url=front.url)
    rooms = alice.get(f"{front.url}/api/rooms", timeout=5).json()["rooms"]
    general = next(room["id"] for room in rooms if room["name"] == "general")
    sent = post(alice, general, "a draft")
    path = f"{front.url}/api/rooms/{general}/messages/{sent['seq']}"
    assert alice.patch(path, json={"text": "a draft, fixed"}, timeout=5).status_code == 200
    time.sleep(1.3)
    late = alice.patch(path, json={"text": "too late"}, timeout=5)
    assert late.status_code == 403 and late.json()["error"]["code"] == "forbidden"
    assert "edit window has closed" in late.json()["error"]["message"]


def test_a_bad_edit_window_stops_the_start(run_launcher):
    answer = run_launcher("backend.py", "--edit-window", "-5")
    assert answer.returncode == 2 and "--edit-window" in answer.stderr

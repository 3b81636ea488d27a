"""Storm and kill: ``kill -9`` of either process in the middle of a burst of messages loses nothing.

Ten people send as fast as they can, each message retried with the same ``client_id`` until it is
acknowledged (the contract's way to get exactly once); twice in the middle, one process is killed
with SIGKILL (master and worker together) and started again on the same port and data directory.
Afterwards every acknowledged message is in the history exactly once, every room's ``seq`` runs
1..N, ``events.jsonl`` holds only whole lines, and WebSocket clients that reconnected with
``after=LAST_POS`` received every message once, in ``pos`` order.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
from contextlib import ExitStack

import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from tests.live_http import make_room
from tests.store_helpers import assert_whole_lines
from tests.ws_client import ws_connect

pytestmark = [pytest.mark.live, pytest.mark.slow]

SENDERS = 10
PER_SENDER = 60  # well inside the default burst of 300 messages per user
STORM_SECONDS = 60  # no sender may take longer than this, crash and restart included
RETRY_PAUSE = 0.05


class Storm:
    """What the senders saw: acknowledged messages by client_id, retries, unexpected answers."""

    def __init__(self, total: int):
        self.total = total
        self.lock = threading.Lock()
        self.acked: dict[str, dict] = {}
        self.retries = 0
        self.unexpected: list[str] = []
        self.deadline = time.monotonic() + STORM_SECONDS

    def ack(self, client_id: str, message: dict) -> None:
        with self.lock:
            assert client_id not in self.acked, f"{client_id} acknowledged twice"
            self.acked[client_id] = message

    def retried(self) -> None:
        with self.lock:
            self.retries += 1

    def wait_for_acks(self, count: int) -> None:
        """Block until ``count`` messages are acknowledged (the middle of the storm)."""
        while len(self.acked) < count:
            assert not self.unexpected, self.unexpected[:5]
            assert time.monotonic() < self.deadline, f"only {len(self.acked)} acks"
            time.sleep(0.01)


def crash_twice(storm: Storm, proc) -> int:
    """``kill -9`` ``proc`` at a quarter and at half of the storm, restarting it each time.

    Two crashes give two chances to hit a request that was stored but not yet answered, the case
    only the client_id retry makes exactly once. Returns how many acks had come before the last.
    """
    for fraction in (4, 2):
        storm.wait_for_acks(storm.total // fraction)
        proc.kill9()
        killed_at = len(storm.acked)
        proc.restart()
    return killed_at


def history(user: requests.Session, room: str) -> list[dict]:
    """The whole history of a room, paged with ``after=``, and a check of ``last_seq``."""
    messages: list[dict] = []
    while True:
        after = messages[-1]["seq"] if messages else 0
        answer = user.get(
            f"{user.base_url}/api/rooms/{room}/messages", params={"after": after, "limit": 200}, timeout=10
        )
        assert answer.status_code == 200, answer.text
        page = answer.json()
        messages += page["messages"]
        if not page["messages"]:
            assert page["last_seq"] == len(messages), "last_seq does not match the history"
            return messages


def assert_exactly_once(storm: Storm, user: requests.Session, rooms: list[str]) -> None:
    """Every acknowledged message is stored once, as acknowledged; every room's seq is gapless."""
    assert len(storm.acked) == storm.total, f"{storm.total - len(storm.acked)} never acknowledged"
    stored: dict[str, dict] = {}
    for room in rooms:
        messages = history(user, room)
        assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1)), f"seq gap in {room}"
        for message in messages:
            key = f"{message['sender']}/{message['client_id']}"
            assert key not in stored, f"{key} stored twice"
            stored[key] = message
    acked = {f"{m['sender']}/{client_id}": m for client_id, m in storm.acked.items()}
    missing = sorted(set(acked) - set(stored))
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {missing[:3]}"
    assert stored == acked, "the history differs from what was acknowledged"


# -- WebSocket clients -----------------------------------------------------------------------------


class WsClient:
    """One person on /ws: sends ``count`` messages one by one and records every event it receives.

    On a lost connection it reconnects with ``after=`` the last ``pos`` it received and sends the
    unacknowledged message again with the same ``client_id``.
    """

    def __init__(self, storm: Storm, user: requests.Session, room: str, start: threading.Barrier, count: int):
        self.storm, self.user, self.room, self.start, self.count = storm, user, room, start, count
        self.received: list[int] = []  # pos of every message event, across connections
        self.connections = 0
        self.failure: str | None = None
        self.ws = None
        self.sockets = ExitStack()  # every connection this client opened, closed at the end
        self.last_pos = 0

    def connect(self) -> None:
        """Open /ws (with ``after`` once a position is known), retrying while the server is away."""
        after = self.last_pos if self.connections else None
        token = self.user.cookies["chat_session"]
        while True:
            assert time.monotonic() < self.storm.deadline, "could not reconnect"
            try:
                self.ws = self.sockets.enter_context(ws_connect(self.user.base_url, token, after=after))
            except (OSError, InvalidHandshake, InvalidStatus, ConnectionClosed):
                self.storm.retried()  # the server is still away, or went away during the handshake
                time.sleep(RETRY_PAUSE)
                continue
            try:
                hello = json.loads(self.ws.recv(timeout=10))
                break
            except (OSError, ConnectionClosed):  # told to try again while the server starts
                self.ws.close()
                self.storm.retried()
                time.sleep(RETRY_PAUSE)
        assert hello["type"] == "hello", hello
        if not self.connections:
            self.last_pos = hello["pos"]
        self.connections += 1

    def read(self, timeout: float) -> dict | None:
        """The next frame; records message events. Raises ConnectionClosed when the server went."""
        frame = json.loads(self.ws.recv(timeout=timeout))
        if frame["type"] in ("message", "room"):
            assert frame["pos"] > self.last_pos, f"pos {frame['pos']} after {self.last_pos}"
            self.last_pos = frame["pos"]
            if frame["type"] == "message":
                self.received.append(frame["pos"])
        if frame["type"] == "error" and frame["error"]["code"] != "backend_unavailable":
            raise AssertionError(f"error frame: {frame}")
        return frame

    def run(self) -> None:
        try:
            self.connect()
            self.start.wait(STORM_SECONDS)  # everyone connected: each must receive every message
            for number in range(self.count):  # none for an observer
                self.send(f"{self.user.username}-{number}", f"ws message {number}")
            while len(self.received) < self.storm.total and not self.storm.unexpected:
                assert time.monotonic() < self.storm.deadline, f"received {len(self.received)}"
                self.guarded(lambda: self.read(timeout=1))
        except BaseException as error:  # reported by the test, not lost in a thread
            self.failure = f"{self.user.username}: {''.join(traceback.format_exception(error))}"
            self.storm.unexpected.append(self.failure)
        finally:
            self.sockets.close()

    def send(self, client_id: str, text: str) -> None:
        """Send until acknowledged, resending with the same client_id after a reconnect."""
        frame = json.dumps({"type": "send", "room": self.room, "text": text, "client_id": client_id})
        sent = False
        while client_id not in self.storm.acked:
            if not sent:
                sent = self.guarded(lambda: self.ws.send(frame) or True)
            else:
                got = self.guarded(lambda: self.read(timeout=10))
                if got is None or got["type"] == "timeout":
                    sent = False  # reconnected, or no answer for long: send it again
                elif got["type"] == "ack" and got["client_id"] == client_id:
                    self.storm.ack(client_id, got["message"])
                elif got["type"] == "error" and got.get("client_id") == client_id:
                    sent = False  # backend_unavailable: try again in a moment
                    time.sleep(RETRY_PAUSE)
            if time.monotonic() > self.storm.deadline:
                raise AssertionError(f"{client_id} never acknowledged")

    def guarded(self, action):
        """Run ``action``; on a lost connection reconnect and return None."""
        try:
            return action()
        except TimeoutError:  # nothing arrived in time (a subclass of OSError, so caught first)
            return {"type": "timeout"}
        except (ConnectionClosed, OSError):
            self.storm.retried()
            self.ws.close()
            self.connect()
            return None


# -- kill -9 of the backend, senders on HTTP ----------------------------------------------------


def http_sender(storm: Storm, user: requests.Session, rooms: list[str]) -> None:
    """Post PER_SENDER messages, each retried with its client_id until it gets a 2xx."""
    for number in range(PER_SENDER):
        client_id = f"{user.username}-{number}"
        room = rooms[number % len(rooms)]
        body = {"text": f"message {number} from {user.username}", "client_id": client_id}
        while time.monotonic() < storm.deadline:
            try:
                answer = user.post(f"{user.base_url}/api/rooms/{room}/messages", json=body, timeout=10)
            except requests.RequestException:
                storm.retried()  # the front server itself is unreachable: try again
                time.sleep(RETRY_PAUSE)
                continue
            if 200 <= answer.status_code < 300:
                storm.ack(client_id, answer.json()["message"])
                break
            if answer.status_code != 503:
                storm.unexpected.append(f"{client_id}: {answer.status_code} {answer.text}")
                return
            storm.retried()
            time.sleep(RETRY_PAUSE)


def test_kill_9_of_the_backend_mid_storm_loses_no_acknowledged_message(live, http_user, data_dir):
    users = [http_user(f"sender{i}") for i in range(SENDERS)]
    rooms = [make_room(users[0], users[1:], name=f"storm-{n}") for n in range(3)]
    storm = Storm(SENDERS * PER_SENDER)
    # Half of the people send over HTTP, the other half over /ws: the front server stays up while
    # the backend behind it dies, so their sends fail with an error frame and are sent again, and
    # the front server's stream of events from the backend breaks and must resume without a seam.
    half = SENDERS // 2
    start = threading.Barrier(SENDERS - half + 1)
    sockets = [WsClient(storm, user, rooms[0], start, PER_SENDER) for user in users[half:]]
    threads = [threading.Thread(target=client.run, daemon=True) for client in sockets]
    for thread in threads:
        thread.start()
    start.wait(STORM_SECONDS)
    senders = [
        threading.Thread(target=http_sender, args=(storm, u, rooms), daemon=True) for u in users[:half]
    ]
    threads += senders
    for thread in senders:
        thread.start()
    killed_at = crash_twice(storm, live.backend)
    for thread in threads:
        thread.join(STORM_SECONDS)
    assert not storm.unexpected, storm.unexpected[:5]
    assert killed_at < storm.total and storm.retries > 0, "the kill did not land in the middle"
    assert_exactly_once(storm, users[0], rooms)
    everything = sorted(message["pos"] for message in storm.acked.values())
    for client in sockets:
        assert client.received == everything, f"{client.user.username} missed or repeated messages"
    assert_whole_lines(data_dir)


# -- kill -9 of the front server, clients on WebSocket ------------------------------------------


def test_kill_9_of_the_front_server_mid_storm_clients_catch_up_exactly_once(live, http_user, data_dir):
    users = [http_user(f"ws{i}") for i in range(SENDERS)]
    room = make_room(users[0], users[1:], name="ws-storm")
    storm = Storm(SENDERS * PER_SENDER)
    start = threading.Barrier(SENDERS)
    clients = [WsClient(storm, user, room, start, PER_SENDER) for user in users]
    threads = [threading.Thread(target=client.run, daemon=True) for client in clients]
    for thread in threads:
        thread.start()
    killed_at = crash_twice(storm, live.front)
    for thread in threads:
        thread.join(STORM_SECONDS)
    assert not storm.unexpected, storm.unexpected[:5]
    assert killed_at < storm.total and all(c.connections >= 2 for c in clients), "no reconnect"
    assert_exactly_once(storm, users[0], [room])
    everything = sorted(message["pos"] for message in storm.acked.values())
    for client in clients:
        # Before and after the reconnect together: every message once, in pos order.
        assert client.received == everything, f"{client.user.username} missed or repeated messages"
    assert_whole_lines(data_dir)

"""The live WebSocket tests' client: a signed-in user's ``/ws`` as the ``websockets`` library sees it.

Shared by ``test_ws_live.py`` and ``test_ws_faults.py``; a test module makes the ``stack`` fixture
visible by naming it at module level (``stack = ws_client.stack``).
"""

from __future__ import annotations

import json
import uuid
from contextlib import ExitStack

import pytest
import requests
from websockets.sync.client import connect

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

"""The live tests' WebSocket client: ``/ws`` of the front server as the ``websockets`` library sees it.

``ws_connect`` opens one connection the way a page (or an attacker) would; ``Client`` is a
signed-in user's open connection that reads frames as dicts. ``tests/conftest.py`` registers this
module as a pytest plugin, so the ``stack`` fixture (an ``ExitStack`` closed at teardown, for the
connections a test opens) is there by name.
"""

from __future__ import annotations

import json
import time
from contextlib import ExitStack

import pytest
import requests
from websockets.sync.client import ClientConnection, connect

WAIT = 10.0  # seconds any single expected frame may take on a busy two-core machine


def ws_connect(
    url: str, token: str | None, origin: str | None = "self", *, after: object = None, **kw
) -> ClientConnection:
    """Open ``url``'s ``/ws`` with ``token`` as the session cookie (``None``: no cookie).

    ``origin`` is the Origin header: ``"self"`` sends ``url`` (the page's own), ``None`` none (a
    script). ``after`` goes into the query as it is, so a test may send a malformed one. Frames are
    queued without bound unless ``max_queue`` says otherwise, so a test that reads late never
    slows the server down; other keyword arguments go to ``connect``. A refused handshake raises
    ``InvalidStatus``.
    """
    query = "" if after is None else f"?after={after}"
    headers = {"Cookie": f"chat_session={token}"} if token is not None else {}
    kw.setdefault("max_queue", None)
    return connect(
        url.replace("http://", "ws://") + "/ws" + query,
        additional_headers=headers,
        origin=url if origin == "self" else origin,
        **kw,
    )


def _log_pos(user: requests.Session) -> int | None:
    """The log's ``pos`` as the backend answers it now, or None when it cannot say."""
    try:
        answer = user.get(f"{user.base_url}/api/events", timeout=WAIT)
    except requests.RequestException:
        return None
    return answer.json()["pos"] if answer.status_code == 200 else None


class Client:
    """One WebSocket of a signed-in user (a ``sign_in`` or ``http_user`` session).

    ``frame()`` reads the next frame of any type; ``recv()`` the next other than presence and
    the backend's status, which it keeps in ``.presence`` and ``.statuses``. The hello frame,
    which must come first and name the user, is in ``.hello``. A subclass may override ``check``
    to assert something of every frame read. ``url`` is the front server to connect to, by
    default the one the user signed in on.

    Without ``after``, ``recv()`` also sets aside (in ``.earlier``) the frames of events older than
    the connection: the log's ``pos`` is read just before the handshake, and a hub a moment behind
    the log then rightly delivers an event between that ``pos`` and its ``hello`` (a room created
    just before), which the test did not connect to see.
    """

    def __init__(
        self,
        stack: ExitStack,
        user: requests.Session,
        after: int | None = None,
        *,
        url: str | None = None,
        **kw,
    ):
        self.user = user
        token = user.cookies["chat_session"]
        self.earlier: list[dict] = []
        self.log_pos = None if after is not None else _log_pos(user)
        self.ws = stack.enter_context(ws_connect(url or user.base_url, token, after=after, **kw))
        self.presence: list[dict] = []
        self.statuses: list[dict] = []
        self.hello = self.frame()
        assert self.hello["type"] == "hello" and self.hello["user"]["username"] == user.username, self.hello

    def check(self, frame: dict) -> None:
        """Called with every frame read; nothing to check here."""

    def send(self, frame: dict) -> None:
        """Send ``frame`` as JSON text."""
        self.ws.send(json.dumps(frame))

    def frame(self, timeout: float = WAIT) -> dict:
        """The next frame, whatever its type (every frame must be a JSON object in a text frame)."""
        raw = self.ws.recv(timeout=timeout)
        assert isinstance(raw, str), "the server sends text frames only"
        frame = json.loads(raw)
        assert isinstance(frame, dict), frame
        self.check(frame)
        return frame

    def recv(self, timeout: float = WAIT) -> dict:
        """The next frame other than presence, status and (see above) an event older than the connection."""
        while True:
            frame = self.frame(timeout)
            if frame["type"] == "presence":
                self.presence.append(frame)
            elif frame["type"] == "status":
                self.statuses.append(frame)
            elif self.log_pos is not None and frame.get("pos", self.log_pos + 1) <= self.log_pos:
                self.earlier.append(frame)
            else:
                return frame

    def expect(self, kind: str, timeout: float = WAIT) -> dict:
        """The next frame other than presence and status, which must be of type ``kind``."""
        frame = self.recv(timeout)
        assert frame["type"] == kind, frame
        return frame

    def until(self, predicate, timeout: float = WAIT, skipped: list | None = None) -> dict:
        """The first frame of any type that matches ``predicate`` within ``timeout`` seconds.

        The frames before it are dropped, or appended to ``skipped``.
        """
        deadline = time.monotonic() + timeout
        while True:
            frame = self.frame(max(0.01, deadline - time.monotonic()))
            if predicate(frame):
                return frame
            if skipped is not None:
                skipped.append(frame)

    def ack_and_echo(self) -> tuple[dict, dict]:
        """The ack of a send and its broadcast to this same connection, which may come first."""
        frames = {f["type"]: f for f in (self.recv(), self.recv())}
        assert set(frames) == {"ack", "message"}, frames
        assert frames["ack"]["message"] == frames["message"]["message"]
        return frames["ack"], frames["message"]

    def quiet(self, timeout: float = 0.3) -> list[dict]:
        """Frames (but presence and status) that arrive within ``timeout``; usually expected to be none."""
        frames = []
        try:
            while True:
                frames.append(self.recv(timeout))
        except TimeoutError:
            return frames


@pytest.fixture
def stack():
    """An ExitStack for the connections a test opens, closed at teardown."""
    with ExitStack() as stack:
        yield stack

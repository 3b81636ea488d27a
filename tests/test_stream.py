"""The hub's reader of the backend's log, and the catch-up, against the real backend app in-process.

The backend is ``backend.create_app`` on a seeded data directory, called through its Flask test
client; only the network is replaced, by :class:`InProcessBackend`: the real client's named calls over
the app's test client instead of HTTP, which can play an outage.
"""

from __future__ import annotations

import time

import pytest

from tests import backend_fixtures as fx
from tests.hub_helpers import drain, positions
from tests.timing import wait_for
from webserver.backend_client import BackendClient, BackendResponse, BackendUnavailable
from webserver.connection import Connection
from webserver.hub import Hub
from webserver.stream import EventStream, catch_up


class InProcessBackend(BackendClient):
    """The real client with its transport replaced by the app's test client; ``down`` plays an outage."""

    def __init__(self, app) -> None:  # no pool: nothing goes over the network
        self.base_url = "in-process"
        self.client = app.test_client()
        self.down = False

    def request(
        self, method, path, *, token=None, json=None, params=None, timeout=None, **_
    ) -> BackendResponse:
        if self.down:
            raise BackendUnavailable("The backend is down (test outage).")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = self.client.open(path, method=method, json=json, query_string=params, headers=headers)
        return BackendResponse(answer.status_code, answer.get_json(silent=True), dict(answer.headers))


@pytest.fixture
def backend(backend_app) -> InProcessBackend:
    return InProcessBackend(backend_app)


@pytest.fixture
def general(users) -> str:
    return fx.general(users.alice)["id"]


def say(caller, room: str, text: str) -> int:
    answer = fx.say(caller, room, text, f"c-{time.monotonic_ns()}")
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()["message"]["pos"]


def test_the_stream_applies_the_log_in_order_and_resumes_after_an_outage(backend, users, general) -> None:
    hub = Hub()
    stream = EventStream(hub, backend, wait=0)
    stream.load_rooms()
    conn = Connection("alice", "t")
    hub.register(conn, {"username": "alice"})
    sent = [say(users.bob, general, f"m{i}") for i in range(3)]
    assert stream.poll_once() == 3
    backend.down = True
    sent += [say(users.bob, general, f"n{i}") for i in range(2)]  # stored while the hub is cut off
    with pytest.raises(BackendUnavailable):
        stream.poll_once()
    backend.down = False
    assert stream.poll_once() == 2
    assert stream.poll_once() == 0
    assert positions(conn) == sent  # every event once, in order


def test_the_stream_loop_retries_until_the_backend_answers(backend, users, general) -> None:
    hub = Hub()
    backend.down = True
    stream = EventStream(hub, backend, wait=0.2)
    stream.start()
    try:
        time.sleep(0.5)  # a few failed attempts: the loop must survive them
        assert not hub.ready.is_set()
        backend.down = False
        assert hub.ready.wait(5)
        pos = say(users.bob, general, "after the outage")
        wait_for(lambda: hub.pos >= pos, 5, every=0.05)
        assert hub.pos == pos
    finally:
        stream.stop(timeout=5)


def test_catch_up_has_no_gap_and_no_repeat_at_the_seam(backend, users, general) -> None:
    hub = Hub()
    stream = EventStream(hub, backend, wait=0)
    stream.load_rooms()
    start = hub.pos
    missed = [say(users.bob, general, f"missed {i}") for i in range(3)]
    stream.poll_once()
    # alice reconnects: registered first, so live events from now on are held for her.
    conn = Connection("alice", users.alice.token)
    hub.register(conn, {"username": "alice"}, after=start)
    during = say(users.bob, general, "during the replay")  # stored, not yet streamed
    catch_up(conn, hub, backend, start)  # the replay reaches it already
    stream.poll_once()  # now the stream brings it too: not sent twice
    later = say(users.bob, general, "live")
    stream.poll_once()
    assert positions(conn) == [*missed, during, later]


def test_catch_up_gives_up_on_a_backend_that_stays_away(backend, users, monkeypatch) -> None:
    monkeypatch.setattr("webserver.stream.CATCH_UP_PATIENCE", 0.2)
    hub = Hub()
    hub.load([], 0)
    conn = Connection("alice", users.alice.token)
    hub.register(conn, {"username": "alice"}, after=0)
    backend.down = True
    catch_up(conn, hub, backend, 0)
    frames = drain(conn)
    assert frames[-1]["type"] == "error" and frames[-1]["error"]["code"] == "backend_unavailable"
    assert conn.closed and conn.close_code == 1013

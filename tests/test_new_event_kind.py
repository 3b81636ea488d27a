"""A new kind of event reaches exactly its audience over every transport, with the hub untouched.

The kinds are defined here, in the test: ``pin`` (no rule: it concerns its room's members) and
``nudge`` (a rule in ``backend.audience.RULES`` narrows it to the user it names). The backend runs
in this process (its app on a threaded server) so that the test can append them through the
store's own append path; the front server is the real ``MainWServer.py``, which knows neither kind.
They must reach their audience, and nobody else, over the WebSocket (live and on catch-up with
``after``) and over ``GET /api/events`` (a long-poll parked in the hub, and a catch-up read from
the backend).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest
import requests
from werkzeug.serving import make_server

from backend import audience
from backend.audience import Named
from tests.ws_client import Client

pytestmark = pytest.mark.live


@pytest.fixture
def inprocess_backend(make_backend_app):
    """The seeded backend app served over HTTP from this process: ``(app, url)``."""
    app = make_backend_app()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.port}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def person(url: str, name: str, token: str, stack: ExitStack) -> requests.Session:
    """A seeded person signed in at the front server: its cookie is their backend session token."""
    session = stack.enter_context(requests.Session())
    session.cookies.set("chat_session", token)
    session.username, session.base_url = name, url
    return session


def poll(user: requests.Session, after: int, wait: float) -> dict:
    answer = user.get(f"{user.base_url}/api/events", params={"after": after, "wait": wait}, timeout=wait + 10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_new_kinds_reach_exactly_their_audience_over_both_transports(
    inprocess_backend, start_front, monkeypatch
):
    monkeypatch.setitem(audience.RULES, "nudge", lambda record, room: Named([record["user"]]))
    app, backend_url = inprocess_backend
    store, tokens = app.extensions["chat.store"], app.extensions["test.tokens"]
    room = store.create_room("alice", "pins", "private", ["bob"])["id"]
    general = next(r["id"] for r in store.rooms_for("alice") if r["name"] == "general")
    start = store.pos
    front = start_front(backend_url)
    with ExitStack() as stack:
        people = {name: person(front.url, name, tokens[name], stack) for name in ("alice", "bob", "carol")}
        sockets = {name: Client(stack, user) for name, user in people.items()}
        deadline = time.monotonic() + 10
        while sockets["alice"].hello["pos"] < start:  # the hub has not applied the room yet
            assert time.monotonic() < deadline, "the hub did not catch up"
            time.sleep(0.1)
            sockets["alice"] = Client(stack, people["alice"])
        with ThreadPoolExecutor(3) as pool:
            # Long-polls at the hub's pos: parked in the hub, answered from its fan-out.
            polls = {name: pool.submit(poll, user, start, 3) for name, user in people.items()}
            time.sleep(0.5)
            pin = store.append_event({"type": "pin", "room": room, "seq": 1})
            nudge = store.append_event({"type": "nudge", "room": general, "user": "alice"})
            answers = {name: future.result() for name, future in polls.items()}

        assert sockets["alice"].recv() == pin and sockets["alice"].recv() == nudge
        assert sockets["bob"].recv() == pin
        assert sockets["bob"].quiet() == [] and sockets["carol"].quiet() == []
        # A parked poll answers with what the hub handed it: the first event that concerns its user.
        assert answers["alice"]["events"][0] == pin and answers["bob"]["events"] == [pin]
        assert answers["carol"]["events"] == []
        for name, expected in {"alice": [pin, nudge], "bob": [pin], "carol": []}.items():
            caught_up = poll(people[name], start, 0)  # read from the backend's per-user feed
            assert caught_up["events"] == expected, name
            replay = Client(stack, people[name], after=start)  # /ws?after=: the catch-up
            assert [replay.recv() for _ in expected] == expected, name
            assert replay.quiet() == [], name

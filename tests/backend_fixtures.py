"""Fixtures for the backend's API tests: the app from its factory on a temporary data directory.

``tests/conftest.py`` registers this module as a pytest plugin, so every test module can ask for
these fixtures by name.

``backend_seed``
    Once per run: the seeded data directory (below) and each person's session token.

``backend_app``
    ``backend.create_app`` on a fresh copy of a data directory in which ``alice``, ``bob``,
    ``carol`` and ``dave`` are already registered (password ``PASSWORD``) and signed in. Signing
    them in once per test run, not per test, keeps the suite fast: each sign-in costs a deliberately
    slow password hash. The copy is a real data directory, so the app replays it as on any restart.

``backend_client``
    The app's Flask test client.

``users``
    The four people as :class:`Caller` objects on ``backend_client``: ``users.alice.get(path)``.

``make_backend_app(config=None, *, seeded=True)``
    Factory for an app with other settings (rate limits, an empty data directory); every app it
    made is closed at teardown.

Plain helpers for the tests' assertions and requests, imported by name: ``check_error`` (the
contract's error shape), ``check_retry_after``, ``new_room``, ``say``, ``room_list``, ``general``,
``current_pos``, ``page`` (one history page's seqs), ``callers_from`` and ``ISO_MS_Z``.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from flask.testing import FlaskClient

from backend import create_app

PEOPLE = ("alice", "bob", "carol", "dave")
PASSWORD = "correct horse battery"


class Caller:
    """One signed-in person talking to the backend with ``Authorization: Bearer TOKEN``."""

    def __init__(self, client: FlaskClient, username: str, token: str):
        self.client = client
        self.username = username
        self.token = token

    def request(self, method: str, path: str, **kwargs):
        """Send a request with this person's bearer token; keyword arguments go to the client."""
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs):
        """GET ``path``."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body=None, **kwargs):
        """POST ``body`` as JSON to ``path``."""
        return self.request("POST", path, json=body, **kwargs)

    def delete(self, path: str, **kwargs):
        """DELETE ``path``."""
        return self.request("DELETE", path, **kwargs)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD) -> tuple[object, Caller | None]:
    """``POST /api/session``; the answer and, when it succeeded, a :class:`Caller` for the person."""
    answer = client.post("/api/session", json={"username": username, "password": password})
    if answer.status_code not in (200, 201):
        return answer, None
    body = answer.get_json()
    return answer, Caller(client, body["user"]["username"], body["session"]["token"])


@pytest.fixture(scope="session")
def backend_seed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A data directory with the four people registered, and each one's session token."""
    data_dir = tmp_path_factory.mktemp("backend-seed") / "data"
    app = create_app({"DATA_DIR": str(data_dir)})
    client = app.test_client()
    tokens = {}
    for name in PEOPLE:
        answer, caller = sign_in(client, name)
        assert answer.status_code == 201, answer.get_data(as_text=True)
        tokens[name] = caller.token
    app.extensions["chat.store"].close()
    return data_dir, tokens


@pytest.fixture
def make_backend_app(tmp_path: Path, backend_seed):
    """Factory: a backend app with ``config`` on a new data directory (seeded or empty)."""
    apps: list[Flask] = []

    def make(config: dict | None = None, *, seeded: bool = True) -> Flask:
        data_dir = tmp_path / f"backend-data-{len(apps)}"
        if seeded:
            shutil.copytree(backend_seed[0], data_dir)
        app = create_app({"DATA_DIR": str(data_dir), **(config or {})})
        app.extensions["test.tokens"] = dict(backend_seed[1]) if seeded else {}
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["chat.store"].close()


@pytest.fixture
def backend_app(make_backend_app) -> Flask:
    """The backend on a fresh copy of the seeded data directory."""
    return make_backend_app()


@pytest.fixture
def backend_client(backend_app: Flask) -> FlaskClient:
    """A test client of ``backend_app``."""
    return backend_app.test_client()


def callers(app: Flask, client: FlaskClient | None = None) -> SimpleNamespace:
    """The seeded people of ``app`` as Callers: ``.alice``, ``.bob``, ``.carol``, ``.dave``."""
    client = client or app.test_client()
    return SimpleNamespace(
        **{name: Caller(client, name, token) for name, token in app.extensions["test.tokens"].items()}
    )


@pytest.fixture
def users(backend_app: Flask, backend_client: FlaskClient) -> SimpleNamespace:
    """alice, bob, carol and dave, signed in on ``backend_client``."""
    return callers(backend_app, backend_client)


ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def check_error(answer, status: int, code: str) -> str:
    """Assert the contract's JSON error shape, status and code; return the message."""
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/json"
    body = answer.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]["message"]


def check_retry_after(answer, at_most: int) -> None:
    """A 429 ``rate_limited`` with a whole number of seconds to wait."""
    check_error(answer, 429, "rate_limited")
    assert 1 <= int(answer.headers["Retry-After"]) <= at_most


def new_room(caller: Caller, name: str = "room", visibility: str = "public", members=()) -> dict:
    """Create a room and return it."""
    answer = caller.post("/api/rooms", {"name": name, "visibility": visibility, "members": list(members)})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()["room"]


def say(caller: Caller, room_id: str, text: str, client_id: str):
    """Post a message; the answer."""
    return caller.post(f"/api/rooms/{room_id}/messages", {"text": text, "client_id": client_id})


def room_list(caller: Caller) -> dict[str, dict]:
    """The caller's ``GET /api/rooms``, by name."""
    answer = caller.get("/api/rooms")
    assert answer.status_code == 200
    return {room["name"]: room for room in answer.get_json()["rooms"]}


def general(caller: Caller) -> dict:
    """The room ``general`` as the caller sees it."""
    return room_list(caller)["general"]


def current_pos(caller: Caller) -> int:
    """The events cursor now."""
    return caller.get("/api/events").get_json()["pos"]


def page(caller: Caller, room_id: str, query: str = "") -> tuple[list[int], int]:
    """The seqs of one history page and its ``last_seq``."""
    answer = caller.get(f"/api/rooms/{room_id}/messages{query}")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert set(body) == {"messages", "last_seq"}
    return [message["seq"] for message in body["messages"]], body["last_seq"]


def restart(app: Flask) -> Flask:
    """The backend app again on ``app``'s data directory, as a restart finds it; the seeded people
    keep their tokens, and ``make_backend_app``'s teardown closes the new store."""
    app.extensions["chat.store"].close()
    again = create_app(dict(app.config))
    app.extensions["chat.store"] = again.extensions["chat.store"]
    again.extensions["test.tokens"] = app.extensions["test.tokens"]
    return again


def callers_from(app, tokens: dict[str, str]):
    """The seeded people as Callers on ``app``, with the tokens they were given."""
    app.extensions["test.tokens"] = tokens
    return callers(app)

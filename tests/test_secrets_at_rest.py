"""No secret at rest in clear: passwords and session tokens appear in no data file and no log line.

People register, sign in again, fail a sign-in, chat over HTTP and WebSocket, sign out and reuse
the revoked cookie; then every file under the data directory and everything both processes printed
is searched for each password and each session token the test used. Both are the keys to an
account: a copy of the data directory or of a log must not hand them out.
"""

from __future__ import annotations

import json
import signal
import uuid
from pathlib import Path

import pytest
import requests
from websockets.exceptions import InvalidStatus

from tests.live_http import general_room
from tests.ws_client import ws_connect

pytestmark = pytest.mark.live


def forms(secret: str) -> list[bytes]:
    """The ways a secret could be written: raw UTF-8 and JSON-escaped."""
    return list({secret.encode(), json.dumps(secret).strip('"').encode()})


def open_socket(user: requests.Session, token: str):
    """Open /ws with ``token`` as the session cookie, send one message, return the ack's text."""
    with ws_connect(user.base_url, token) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        general = general_room(user)
        ws.send(json.dumps({"type": "send", "room": general, "text": "over the socket", "client_id": "ws-1"}))
        while (frame := json.loads(ws.recv(timeout=10)))["type"] != "ack":
            pass
        return frame["message"]["text"]


def test_no_password_or_session_token_in_the_data_files_or_the_logs(live, http_user, data_dir: Path):
    url = live.url
    passwords, tokens = [], []
    people = []
    for name, password in [("alice", "Tr0ub4dor&3-secret"), ("bob", "pässwörd-ñ-秘密-🔑")]:
        person = http_user(name, password=f"{password}-{uuid.uuid4().hex[:6]}")
        passwords.append(person.password)
        tokens.append(person.cookies["chat_session"])
        people.append(person)
    alice, bob = people

    # A second session for alice, and a failed sign-in with a wrong password.
    again = requests.post(f"{url}/api/session", json={"username": alice.username, "password": alice.password})
    assert again.status_code == 200
    tokens.append(again.cookies["chat_session"])
    wrong = f"not-{alice.password}"
    passwords.append(wrong)
    refused = requests.post(f"{url}/api/session", json={"username": alice.username, "password": wrong})
    assert refused.status_code == 401

    # Chat over HTTP and over the WebSocket, with the cookie on every request and handshake.
    dm = alice.post(f"{url}/api/dms", json={"username": bob.username}).json()["room"]["id"]
    answer = alice.post(f"{url}/api/rooms/{dm}/messages", json={"text": "hi bob", "client_id": "c-1"})
    assert answer.status_code == 201
    assert open_socket(bob, tokens[1]) == "over the socket"

    # Sign out, then use the revoked cookie on HTTP and on the WebSocket.
    assert bob.delete(f"{url}/api/session").status_code == 204
    revoked = {"Cookie": f"chat_session={tokens[1]}"}
    assert requests.get(f"{url}/api/session", headers=revoked).status_code == 401
    with pytest.raises(InvalidStatus):
        open_socket(bob, tokens[1])

    # Stop both cleanly so everything they would print on the way out is printed too.
    live.front.stop(signal.SIGTERM)
    live.backend.stop(signal.SIGTERM)
    places = {str(path): path.read_bytes() for path in data_dir.rglob("*") if path.is_file()}
    # The search looks at the right bytes: what was stored in clear on purpose is found.
    assert alice.username.encode() in places[str(data_dir / "users.jsonl")]
    assert b"hi bob" in places[str(data_dir / "events.jsonl")]
    places["backend output"] = live.backend.output().encode()
    places["front server output"] = live.front.output().encode()
    for secret in passwords + tokens:
        for where, content in places.items():
            for form in forms(secret):
                assert form not in content, f"a secret ({secret[:4]}…) is in clear in {where}"

"""Names and text that look like paths or use unusual Unicode: stored and shown exactly, or refused.

Usernames, room names and message texts such as ``../../etc/passwd``, ``con``, ``nul``, NUL bytes,
right-to-left marks, combining characters, emoji and zero-width joiners either come back byte for
byte everywhere they are shown (the sign-in answer, lists, history, the WebSocket) or are refused
with ``422 validation_error``. None of them ever becomes a file: the data directory holds only its
known files, no file of such a name appears next to it or in the repository, and the front server
serves nothing outside its static directory whatever the path says.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from tests.live_http import general_room, make_room, sign_in, unique
from tests.ws_client import Client

pytestmark = pytest.mark.live

REPO = Path(__file__).resolve().parent.parent
# The log and accounts, the lock, the search index (SQLite with its journal) and file bodies.
DATA_FILES = {"events.jsonl", "users.jsonl", "sessions.jsonl", ".lock", "files"} | {
    "search.sqlite3" + suffix for suffix in ("", "-wal", "-shm", "-journal")
}

PATHS = ["../../etc/passwd", "..\\..\\windows\\win.ini", "/", "/etc/passwd", "con", "nul", "CON.txt", "aux"]
UNICODE = [
    "\u202eevil\u202c",  # right-to-left override
    "\u200fשלום\u200f",  # right-to-left marks around Hebrew
    "e\u0301\u0301\u0301",  # combining acute accents
    "Z\u0351\u0364\u036b\u0348a\u0310l\u0346\u0352go",  # stacked combining marks
    "\U0001f600",  # an emoji beyond the BMP
    "\U0001f469\u200d\U0001f469\u200d\U0001f467",  # a family: emoji joined by zero-width joiners
    "\U0001f1eb\U0001f1f7",  # a flag: two regional indicators
    "a\u200bb\u200cc\u200dd",  # zero-width space, non-joiner, joiner
    "\ufeffbom",  # a byte-order mark first
    "名前と部屋",
    "<script>alert(1)</script>",
    "line\r\nbreak\ttab",
]
# Raw JSON bodies: an unpaired surrogate escape is a string no UTF-8 text can hold.
SURROGATES = ['"\\ud800"', '"a\\udfffb"']


def created_names(root: Path, names: set[str], since: float) -> list[str]:
    """Files or folders under ``root`` named like a tested name and changed after ``since``."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in (".venv", ".git", "node_modules")]
        for name in (*dirs, *files):
            if name.lower() in names:
                try:
                    if os.lstat(os.path.join(folder, name)).st_mtime >= since:
                        found.append(os.path.join(folder, name))
                except FileNotFoundError:
                    continue
    return found


class Checker:
    """The stack, two signed-in members of one room, and the data directory to watch."""

    def __init__(self, live):
        self.url = live.url
        self.data_dir = Path(live.backend.argv[live.backend.argv.index("--data-dir") + 1])
        self.started = time.time() - 1
        self.owner = self.sign_in(unique("owner"))[1]
        self.reader = self.sign_in(unique("reader"))[1]
        self.room = make_room(self.owner, [self.reader], name="names")

    def sign_in(
        self, username: str, raw: bytes | None = None
    ) -> tuple[requests.Response, requests.Session | None]:
        """POST /api/session with this name (or this raw body); the answer and the session (if not raw)."""
        if raw is None:
            session = sign_in(self.url, username, "password-1", status=None)
            return session.answer, session
        answer = requests.post(
            f"{self.url}/api/session", data=raw, headers={"Content-Type": "application/json"}, timeout=10
        )
        return answer, None

    def check_files(self, names: list[str]) -> None:
        """The data directory holds only its own files; no tested name became a file anywhere."""
        assert {path.name for path in self.data_dir.iterdir()} <= DATA_FILES
        basenames = {Path(name.replace("\\", "/")).name.lower() for name in names} - {""}
        basenames |= {name.lower() for name in names if "/" not in name}
        for root in (self.data_dir.parent, REPO):
            assert created_names(root, basenames, self.started) == []


def refused(answer: requests.Response) -> None:
    """The answer is the contract's refusal of a bad value."""
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "validation_error"


@pytest.fixture(scope="module")
def check(live_module) -> Checker:
    """The shared stack and its watcher."""
    return Checker(live_module)


USERNAMES_OK = ["con", "nul", "aux", "..", "...", ".-_", "Åsa.Ödegård", "名前", "مرحبا", "１２"]
USERNAMES_BAD = [
    "../../etc/passwd",
    "a/b",
    "/",
    "a\x00b",
    "\x00\x00",
    "a\\b",
    "x" * 33,
    "x",
    "",
    " ab",
    "a\u200fb",
    "e\u0301e",
    "\U0001f600\U0001f600",
    "a\u200db",
    "a\ufeffb",
]


@pytest.mark.parametrize("username", USERNAMES_OK, ids=repr)
def test_a_username_is_shown_exactly_as_registered(check, username):
    """An accepted name comes back the same in the answer, the lists, messages and the WebSocket."""
    answer, user = check.sign_in(username)
    assert answer.status_code == 201, answer.text
    assert answer.json()["user"]["username"] == username
    assert user.get(f"{check.url}/api/session", timeout=10).json()["user"]["username"] == username
    listed = [u["username"] for u in user.get(f"{check.url}/api/users", timeout=10).json()["users"]]
    assert username in listed
    with ExitStack() as stack:
        ws = Client(stack, user)
        assert ws.hello["user"]["username"] == username
        dm = user.post(f"{check.url}/api/dms", json={"username": check.owner.username}, timeout=10)
        assert dm.status_code == 201, dm.text
        room = dm.json()["room"]
        assert sorted(room["members"]) == sorted([username, check.owner.username])
        assert room["name"] == ", ".join(sorted([username, check.owner.username], key=str.casefold))
        posted = user.post(
            f"{check.url}/api/rooms/{room['id']}/messages", json={"text": "hi", "client_id": "c1"}, timeout=10
        )
        assert posted.status_code == 201 and posted.json()["message"]["sender"] == username
        event = ws.until(lambda f: f["type"] == "message")
        assert event["message"]["sender"] == username
    # Leaving a room names the user in the path: that must reach the same user, not a path.
    general = general_room(user)
    left = user.delete(f"{check.url}/api/rooms/{general}/members/{_segment(username)}", timeout=10)
    assert left.status_code == 204, left.text
    check.check_files([username])


@pytest.mark.parametrize("username", USERNAMES_BAD, ids=repr)
def test_a_bad_username_is_refused_with_validation_error(check, username):
    """Names outside the contract's letters, digits, ``_``, ``-`` and ``.`` (2 to 32) are refused."""
    refused(check.sign_in(username)[0])
    check.check_files([username])


@pytest.mark.parametrize("raw", SURROGATES)
@pytest.mark.parametrize("where", ["username", "room name", "message text", "websocket text"])
def test_surrogate_escapes_are_refused_with_validation_error(check, where, raw):
    """An unpaired surrogate escape cannot be stored as text: refused as a bad value, wherever it is."""
    headers = {"Content-Type": "application/json"}
    owner = check.owner
    if where == "username":
        refused(check.sign_in("", raw=('{"username": ' + raw + ', "password": "password-1"}').encode())[0])
    elif where == "room name":
        refused(owner.post(f"{check.url}/api/rooms", data=f'{{"name": {raw}}}', headers=headers, timeout=10))
    elif where == "message text":
        body = f'{{"text": {raw}, "client_id": "s1"}}'
        url = f"{check.url}/api/rooms/{check.room}/messages"
        refused(owner.post(url, data=body, headers=headers, timeout=10))
    else:
        with ExitStack() as stack:
            ws = Client(stack, owner)
            ws.ws.send(f'{{"type": "send", "room": "{check.room}", "text": {raw}, "client_id": "s2"}}')
            error = ws.until(lambda f: f["type"] == "error")
            assert error["error"]["code"] == "validation_error", error


def test_a_paired_surrogate_escape_is_the_character_it_spells(check):
    """``\\ud83d\\ude00`` in JSON is one emoji, stored and shown as that emoji."""
    answer = check.owner.post(
        f"{check.url}/api/rooms/{check.room}/messages",
        data=b'{"text": "\\ud83d\\ude00", "client_id": "pair"}',
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["message"]["text"] == "\U0001f600"


ROOM_NAMES_OK = [*PATHS, *UNICODE, "a\x00b", "\x00", "\U0001f600" * 64, "e" + "\u0301" * 63, "x" * 64]
ROOM_NAMES_BAD = ["", " ", "\t\n", "\u3000", "x" * 65, "\U0001f600" * 65, "e" + "\u0301" * 64]


@pytest.mark.parametrize("name", ROOM_NAMES_OK, ids=repr)
def test_a_room_name_is_shown_exactly_as_created(check, name):
    """An accepted room name comes back the same in the answer, the room, the list and the WebSocket."""
    owner = check.sign_in(unique("maker"))[1]  # its own room-creation allowance
    with ExitStack() as stack:
        ws = Client(stack, check.reader)
        answer = owner.post(
            f"{check.url}/api/rooms",
            json={"name": name, "visibility": "private", "members": [check.reader.username]},
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        room = answer.json()["room"]
        assert room["name"] == name
        assert (
            check.reader.get(f"{check.url}/api/rooms/{room['id']}", timeout=10).json()["room"]["name"] == name
        )
        listed = check.reader.get(f"{check.url}/api/rooms", timeout=10).json()["rooms"]
        assert [r["name"] for r in listed if r["id"] == room["id"]] == [name]
        event = ws.until(lambda f: f["type"] == "room" and f["room"]["id"] == room["id"])
        assert event["room"]["name"] == name
        assert room["id"] != name and name not in room["id"]
    check.check_files([name])


@pytest.mark.parametrize("name", ROOM_NAMES_BAD, ids=repr)
def test_a_bad_room_name_is_refused_with_validation_error(check, name):
    """Room names must be 1 to 64 code points and not only white space."""
    refused(check.owner.post(f"{check.url}/api/rooms", json={"name": name}, timeout=10))


TEXTS_OK = [*PATHS, *UNICODE, "a\x00b", "\x00", "\u200b", "\U0001f600" * 4000, "e" + "\u0301" * 3999]
TEXTS_BAD = ["", " ", "\r\n\t", "\u3000\u00a0", "x" * 4001, "\U0001f600" * 4001]


@pytest.mark.parametrize("text", TEXTS_OK, ids=lambda t: repr(t)[:40])
def test_a_message_text_round_trips_byte_for_byte(check, text):
    """Posted over HTTP or sent over the WebSocket, a text comes back identical everywhere."""
    client_id = uuid.uuid4().hex
    with ExitStack() as stack:
        reader_ws = Client(stack, check.reader)
        owner_ws = Client(stack, check.owner)
        answer = check.owner.post(
            f"{check.url}/api/rooms/{check.room}/messages",
            json={"text": text, "client_id": client_id},
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        message = answer.json()["message"]
        assert message["text"].encode() == text.encode()
        owner_ws.send({"type": "send", "room": check.room, "text": text, "client_id": client_id + "-ws"})
        ack = owner_ws.until(lambda f: f["type"] in ("ack", "error"))
        assert ack["type"] == "ack", ack
        assert ack["message"]["text"].encode() == text.encode()
        for sent in (message, ack["message"]):
            heard = reader_ws.until(
                lambda f, s=sent: f["type"] == "message" and f["message"]["id"] == s["id"]
            )
            assert heard["message"]["text"].encode() == text.encode()
        history = check.reader.get(
            f"{check.url}/api/rooms/{check.room}/messages",
            params={"after": message["seq"] - 1, "limit": 2},
            timeout=10,
        ).json()["messages"]
        assert [m["text"].encode() for m in history] == [text.encode()] * 2
    stored = [
        json.loads(line)
        for line in (check.data_dir / "events.jsonl").read_bytes().splitlines()
        if client_id.encode() in line
    ]
    assert [event["message"]["text"] for event in stored] == [text, text]
    check.check_files([text])


@pytest.mark.parametrize("text", TEXTS_BAD, ids=lambda t: repr(t)[:40])
def test_a_bad_message_text_is_refused_over_http_and_the_websocket(check, text):
    """Empty, blank or over 4,000 code points: 422 over HTTP, a validation_error frame over /ws."""
    refused(
        check.owner.post(
            f"{check.url}/api/rooms/{check.room}/messages",
            json={"text": text, "client_id": "bad"},
            timeout=10,
        )
    )
    with ExitStack() as stack:
        ws = Client(stack, check.owner)
        ws.send({"type": "send", "room": check.room, "text": text, "client_id": "bad"})
        error = ws.until(lambda f: f["type"] == "error")
        assert error["error"]["code"] == "validation_error" and error["client_id"] == "bad"


STATIC_TRAVERSALS = [
    "/..%2F..%2Fetc%2Fpasswd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/..%2fbackend.py",
    "/%2e%2e/MainWServer.py",
    "/js/..%2F..%2Fbackend.py",
    "/%00",
    "/index.html%00.js",
    "/con",
    "/nul",
    "//etc/passwd",
]


@pytest.mark.parametrize("path", STATIC_TRAVERSALS)
def test_no_path_reaches_a_file_outside_the_static_directory(check, path):
    """Encoded dots, slashes and NUL in the address never serve a file from outside ``static/``."""
    answer = requests.get(check.url + path, timeout=10, allow_redirects=False)
    assert answer.status_code in (400, 404), (answer.status_code, answer.text[:200])
    assert b"root:" not in answer.content and b"def main" not in answer.content


@pytest.mark.parametrize("room_id", ["../../etc/passwd", "..", ".", "r\x00", "con", "/", "%2e%2e"])
def test_a_room_id_that_looks_like_a_path_is_just_not_found(check, room_id):
    """A room id is looked up, never opened: any path-like id is a JSON 404 ``not_found``."""
    for method, suffix in (("GET", ""), ("GET", "/messages"), ("POST", "/messages"), ("POST", "/members")):
        answer = check.owner.request(
            method,
            f"{check.url}/api/rooms/{_segment(room_id)}{suffix}",
            json={"text": "x", "client_id": "p", "username": check.owner.username},
            timeout=10,
        )
        assert answer.status_code == 404, (method, suffix, answer.status_code, answer.text)
        assert answer.json()["error"]["code"] == "not_found"
    check.check_files([room_id])


def _segment(value: str) -> str:
    """``value`` as one path segment: every character percent-encoded except letters and digits."""
    return "".join(
        c if c.isascii() and c.isalnum() else "".join(f"%{b:02X}" for b in c.encode()) for c in value
    )

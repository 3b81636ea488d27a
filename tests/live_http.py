"""The live tests' HTTP calls to the front server: signing in, rooms, DMs, posting, finding ``general``.

Plain functions on ``requests.Session`` objects, imported by name. A session made by
:func:`sign_in` (or the ``http_user`` fixture, which uses it) carries ``.username``,
``.password``, ``.base_url``, ``.token`` (its session cookie), ``.status`` and ``.answer`` (the
sign-in's answer), so the other helpers need no URL of their own.
"""

from __future__ import annotations

import threading
import time
import uuid

import requests

TIMEOUT = 10  # seconds for one request on a busy two-core machine


def unique(name: str) -> str:
    """``name`` with a random suffix: a username nobody else has, within the 32 characters allowed."""
    return f"{name[:23]}-{uuid.uuid4().hex[:8]}"


def sign_in(
    url: str,
    username: str | None = None,
    password: str | None = None,
    *,
    status: tuple[int, ...] | None = (200, 201),
    **kw,
) -> requests.Session:
    """``POST /api/session`` on a new ``requests.Session``: registers ``username`` or signs it in.

    ``username`` defaults to a fresh one and ``password`` to one made from the name, so signing in
    again as the same name needs no password. An answer whose status is not in ``status`` raises
    ``RuntimeError`` naming it (``status=None`` accepts any: read ``.answer``). Further keyword
    arguments go to ``Session.post`` (``headers``, for example).
    """
    username = unique("user") if username is None else username
    password = password or f"pw-{username}-secret"
    session = requests.Session()
    answer = session.post(
        f"{url}/api/session", json={"username": username, "password": password}, timeout=TIMEOUT, **kw
    )
    if status is not None and answer.status_code not in status:
        session.close()
        raise RuntimeError(f"sign-in of {username!r} failed: {answer.status_code} {answer.text}")
    session.username, session.password, session.base_url = username, password, url
    session.status, session.answer = answer.status_code, answer
    session.token = session.cookies.get("chat_session")
    return session


def make_room(
    owner: requests.Session, members=(), visibility: str = "private", name: str | None = None
) -> str:
    """Create a room (201 asserted) with ``members`` (sessions) in it; its id."""
    answer = owner.post(
        f"{owner.base_url}/api/rooms",
        json={
            "name": name or f"room-{uuid.uuid4().hex[:6]}",
            "visibility": visibility,
            "members": [m.username for m in members],
        },
        timeout=TIMEOUT,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["room"]["id"]


def open_dm(user: requests.Session, other: requests.Session, status: tuple[int, ...] = (200, 201)) -> str:
    """Open (201) or find again (200) the DM of ``user`` and ``other``, its status in ``status``; its id."""
    answer = user.post(f"{user.base_url}/api/dms", json={"username": other.username}, timeout=TIMEOUT)
    assert answer.status_code in status, answer.text
    return answer.json()["room"]["id"]


def post(user: requests.Session, room: str, text: str) -> dict:
    """Post ``text`` to ``room`` with a fresh client_id (201 asserted); the stored message."""
    answer = user.post(
        f"{user.base_url}/api/rooms/{room}/messages",
        json={"text": text, "client_id": uuid.uuid4().hex},
        timeout=TIMEOUT,
    )
    assert answer.status_code == 201, answer.text
    assert set(answer.json()) == {"message"}, "the answer carries the contract's message and nothing else"
    return answer.json()["message"]


def general_room(user: requests.Session) -> str:
    """The id of the room ``general`` (the one nobody created) in ``user``'s room list."""
    rooms = user.get(f"{user.base_url}/api/rooms", timeout=TIMEOUT).json()["rooms"]
    return next(room["id"] for room in rooms if room["name"] == "general" and room["created_by"] is None)


def cookie_attributes(header: str) -> dict[str, str]:
    """The session cookie's ``Set-Cookie``: ``"value"``, and each attribute by lower-case name
    (a flag such as ``HttpOnly`` maps to ``""``)."""
    first, *rest = [part.strip() for part in header.split(";")]
    assert first.startswith("chat_session="), header
    attributes = {"value": first.split("=", 1)[1]}
    for part in rest:
        name, _, value = part.partition("=")
        attributes[name.lower()] = value
    return attributes


def park_poll(url: str, user: requests.Session) -> tuple[threading.Thread, list[dict]]:
    """A long-poll of ``user`` on ``url`` from the log's end, parked there by the time this returns
    (a second later); the thread, and the list its answer goes into."""
    pos = user.get(f"{url}/api/events", timeout=TIMEOUT).json()["pos"]
    answers: list[dict] = []
    poll = threading.Thread(
        target=lambda: answers.append(
            user.get(f"{url}/api/events", params={"after": pos, "wait": 20}, timeout=30).json()
        )
    )
    poll.start()
    time.sleep(1.0)
    return poll, answers

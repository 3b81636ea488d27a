"""Membership changes are stored as the change, not the member list; and they are rate-limited.

A join or a leave in a room of 401 members used to rewrite (and fsync) all 401 names; now each
writes one short line whatever the room's size, and the feeds still serve every room event with
the member list as of that event. Logs written before, with a list in every room event, load and
are served as they were. Through the real processes.
"""

from __future__ import annotations

import json

import pytest
import requests
from werkzeug.security import generate_password_hash

from tests.live_http import TIMEOUT, sign_in

pytestmark = pytest.mark.live

PASSWORD = "correct horse battery"
TS = "2026-01-01T00:00:00.000Z"


def write_users(data_dir, names) -> None:
    """Register ``names`` on disk (one hash for all: registering 400 through scrypt takes a minute)."""
    digest = generate_password_hash(PASSWORD)
    lines = (json.dumps({"username": n, "password_hash": digest, "created_at": TS}) for n in names)
    (data_dir / "users.jsonl").write_text("\n".join(lines) + "\n")


def room_events(user, after: int) -> list[dict]:
    events = []
    while True:
        page = user.get(f"{user.base_url}/api/events", params={"after": after}, timeout=TIMEOUT).json()
        events += [event for event in page["events"] if event["type"] == "room"]
        after = page["pos"]
        if not page["more"]:
            return events


def test_a_join_or_leave_in_a_big_room_writes_the_change_not_the_list(data_dir, start_backend, start_front):
    members = [f"member{n:03d}" for n in range(400)]
    write_users(data_dir, ["owner", "joiner", *members])
    backend = start_backend(None, "--membership-burst", "0")
    url = start_front(backend).url
    owner, joiner = sign_in(url, "owner", PASSWORD), sign_in(url, "joiner", PASSWORD)
    answer = owner.post(
        f"{url}/api/rooms", json={"name": "big", "visibility": "public", "members": members}, timeout=TIMEOUT
    )
    room = answer.json()["room"]
    assert len(room["members"]) == 401
    log = data_dir / "events.jsonl"
    before, start = log.stat().st_size, requests.get(f"{url}/api/events", cookies=owner.cookies).json()["pos"]

    for _ in range(300):
        joined = joiner.post(
            f"{url}/api/rooms/{room['id']}/members", json={"username": "joiner"}, timeout=TIMEOUT
        )
        assert len(joined.json()["room"]["members"]) == 402
        assert (
            joiner.delete(f"{url}/api/rooms/{room['id']}/members/joiner", timeout=TIMEOUT).status_code == 204
        )

    written = log.stat().st_size - before
    list_bytes = len(json.dumps(room["members"]))  # what one change used to write, at least
    assert written / 600 < list_bytes / 4, (written, list_bytes)

    # Served with the list as of each event, to the room's members and to the one who came and went.
    for reader in (owner, joiner):
        events = room_events(reader, start)
        assert [e["action"] for e in events] == ["joined", "left"] * 300
        for event in events:
            listed = event["room"]["members"]
            assert listed[:401] == room["members"]
            assert listed[401:] == (["joiner"] if event["action"] == "joined" else [])

    # After a restart the log replays to the same room and the same served events.
    served = room_events(owner, start)
    backend.stop()
    backend.restart()
    assert room_events(owner, start) == served
    assert (
        owner.get(f"{url}/api/rooms/{room['id']}", timeout=TIMEOUT).json()["room"]["members"]
        == room["members"]
    )


def test_a_log_with_member_lists_still_loads_and_is_served_as_it_was(data_dir, start_backend, start_front):
    write_users(data_dir, ["alice", "bob"])
    general = {"id": "r000000000001", "name": "general", "kind": "group", "visibility": "public"}
    general |= {"last_seq": 0, "created_by": None, "created_at": TS}
    old = [
        ("created", None, []),
        ("joined", "alice", ["alice"]),
        ("joined", "bob", ["alice", "bob"]),
        ("left", "alice", ["bob"]),
    ]
    lines = [
        json.dumps(
            {
                "type": "room",
                "pos": pos,
                "room": general | {"members": listed},
                "action": action,
                "user": user,
            },
            separators=(",", ":"),
        )
        for pos, (action, user, listed) in enumerate(old, 1)
    ]
    (data_dir / "events.jsonl").write_text("\n".join(lines) + "\n")
    url = start_front(start_backend()).url
    bob = sign_in(url, "bob", PASSWORD)
    assert bob.get(f"{url}/api/rooms/{general['id']}", timeout=TIMEOUT).json()["room"]["members"] == ["bob"]
    page = bob.get(f"{url}/api/events", params={"after": 0}, timeout=TIMEOUT).json()
    # Byte for byte as stored (bob was not in the room when alice joined: not his event).
    assert [json.dumps(e, separators=(",", ":")) for e in page["events"]] == [lines[0], *lines[2:]]

    # A change made now is stored as the change, and served with the list.
    alice = sign_in(url, "alice", PASSWORD)  # left general for good: not joined again
    added = bob.post(f"{url}/api/rooms/{general['id']}/members", json={"username": "alice"}, timeout=TIMEOUT)
    assert added.json()["room"]["members"] == ["bob", "alice"]
    stored = json.loads((data_dir / "events.jsonl").read_text().splitlines()[-1])
    assert (stored["action"], stored["user"], "members" in stored["room"]) == ("added", "alice", False)
    served = alice.get(f"{url}/api/events", params={"after": 4}, timeout=TIMEOUT).json()["events"]
    assert [(e["action"], e["room"]["members"]) for e in served] == [("added", ["bob", "alice"])]


def test_membership_changes_are_rate_limited_per_user(start_backend, start_front):
    backend = start_backend(None, "--membership-burst", "3", "--membership-rate", "0.01")
    url = start_front(backend).url
    owner, hopper = sign_in(url), sign_in(url)
    room = owner.post(f"{url}/api/rooms", json={"name": "hop", "visibility": "public"}, timeout=TIMEOUT)
    room_id = room.json()["room"]["id"]
    path = f"{url}/api/rooms/{room_id}/members"
    assert hopper.post(path, json={"username": hopper.username}, timeout=TIMEOUT).status_code == 200
    assert hopper.delete(f"{path}/{hopper.username}", timeout=TIMEOUT).status_code == 204
    assert hopper.post(path, json={"username": hopper.username}, timeout=TIMEOUT).status_code == 200
    # Asking for what is already so changes nothing and costs nothing.
    assert hopper.post(path, json={"username": hopper.username}, timeout=TIMEOUT).status_code == 200
    refused = hopper.delete(f"{path}/{hopper.username}", timeout=TIMEOUT)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 60
    # Others are not held back by one user's hopping.
    assert owner.post(path, json={"username": hopper.username}, timeout=TIMEOUT).status_code == 200

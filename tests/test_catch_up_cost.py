"""Catching up from ``pos`` 0 costs a user in a few quiet rooms little, however long the log.

The per-user feed reads the room index (each room's events, merged by ``pos``) for the rooms the
user is in, rather than every position of the log: on a log of 200,000 events in a room the user
is not in, catching up from 0 takes about as long as catching up on the last hundred events (the
baseline, measured in the same test), where reading the whole log took a hundred times longer.
And deep catch-ups are rate-limited per user. Against the real backend process.
"""

from __future__ import annotations

import json
import time

import orjson
import pytest
import requests
from live_procs import INTERNAL_SECRET
from werkzeug.security import generate_password_hash

from common.secret import HEADER

pytestmark = pytest.mark.live

PASSWORD = "correct horse battery"
TS = "2026-01-01T00:00:00.000Z"
BUSY_EVENTS = 200_000
INTERNAL = {HEADER: INTERNAL_SECRET}  # the backend is called directly, as a front server would


def room_line(pos: int, room_id: str, name: str, members: list[str], creator: str | None) -> dict:
    room = {"id": room_id, "name": name, "kind": "group", "visibility": "private", "members": members}
    room |= {"last_seq": 0, "created_by": creator, "created_at": TS}
    return {"type": "room", "pos": pos, "room": room, "action": "created", "user": creator}


def message_line(pos: int, room_id: str, seq: int, sender: str) -> dict:
    message = {"id": f"m{pos:015x}", "room": room_id, "seq": seq, "pos": pos, "sender": sender}
    message |= {"text": f"message {seq}", "ts": TS, "client_id": f"c{pos}"}
    return {"type": "message", "pos": pos, "message": message}


def write_big_log(data_dir) -> list[int]:
    """A busy room of BUSY_EVENTS messages that ``quiet`` is not in, and a quiet room it is in,
    with a message every 10,000 positions. The positions of the quiet room's events."""
    digest = generate_password_hash(PASSWORD)
    users = [{"username": n, "password_hash": digest, "created_at": TS} for n in ("busy", "quiet", "other")]
    (data_dir / "users.jsonl").write_text("".join(json.dumps(u) + "\n" for u in users))
    lines = [
        room_line(1, "rgeneral00001", "general", [], None),
        room_line(2, "rbusy0000001", "busy", ["busy"], "busy"),
        room_line(3, "rquiet000001", "quiet", ["other", "quiet"], "other"),
    ]
    lines[0]["room"]["visibility"] = "public"
    quiet = [3]
    busy_seq = quiet_seq = 0
    for pos in range(4, BUSY_EVENTS + 4):
        if pos % 10_000 == 0:
            quiet_seq += 1
            lines.append(message_line(pos, "rquiet000001", quiet_seq, "other"))
            quiet.append(pos)
        else:
            busy_seq += 1
            lines.append(message_line(pos, "rbusy0000001", busy_seq, "busy"))
    (data_dir / "events.jsonl").write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    return quiet


def bearer(url: str, name: str) -> dict:
    """The headers of a call to the backend as ``name``: its bearer token and the internal secret."""
    answer = requests.post(
        f"{url}/api/session", json={"username": name, "password": PASSWORD}, headers=INTERNAL, timeout=10
    )
    return {"Authorization": f"Bearer {answer.json()['session']['token']}", **INTERNAL}


def catch_up(url: str, auth: dict, after: int) -> tuple[list[dict], int]:
    """Every event after ``after`` for the caller, page by page; and the requests it took."""
    events, calls = [], 0
    while True:
        answer = requests.get(f"{url}/api/events", params={"after": after}, headers=auth, timeout=30)
        assert answer.status_code == 200, answer.text
        page, calls = answer.json(), calls + 1
        events += page["events"]
        after = page["pos"]
        if not page["more"]:
            return events, calls


def fastest(runs: int, action) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def test_catching_up_from_zero_reads_only_the_users_rooms(data_dir, start_backend):
    quiet_positions = write_big_log(data_dir)
    backend = start_backend(None, "--catch-up-burst", "0")
    auth = bearer(backend.url, "quiet")
    events, calls = catch_up(backend.url, auth, 0)
    assert [e["pos"] for e in events if e["type"] == "message"] == quiet_positions[1:]
    assert quiet_positions[0] in [e["pos"] for e in events]
    assert all(e["message"]["room"] == "rquiet000001" for e in events if e["type"] == "message")
    assert calls == 1

    end = requests.get(f"{backend.url}/api/events", headers=auth, timeout=10).json()["pos"]
    baseline = fastest(7, lambda: catch_up(backend.url, auth, end - 100))
    from_zero = fastest(7, lambda: catch_up(backend.url, auth, 0))
    # Reading every position of the log made this over a hundred times the baseline.
    assert from_zero < 5 * baseline, (from_zero, baseline)


def test_deep_catch_ups_are_rate_limited_per_user(data_dir, start_backend):
    write_big_log(data_dir)
    backend = start_backend(None, "--catch-up-burst", "3", "--catch-up-rate", "0.01")
    quiet, other = bearer(backend.url, "quiet"), bearer(backend.url, "other")
    for _ in range(3):
        catch_up(backend.url, quiet, 0)
    refused = requests.get(f"{backend.url}/api/events", params={"after": 0}, headers=quiet, timeout=10)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 60
    # A shallow read is no deep catch-up, and another user has an allowance of their own.
    end = requests.get(f"{backend.url}/api/events", headers=quiet, timeout=10).json()["pos"]
    assert catch_up(backend.url, quiet, end - 50)[1] == 1
    catch_up(backend.url, other, 0)

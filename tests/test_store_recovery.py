"""The backend's store on its own, concurrency, persistence and recovery: concurrent appends,
everything surviving a close and reopen, a torn or garbage line in the log, and one store per
data directory."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

import orjson
import pytest

from backend.datadir import DataDirError
from backend.store import Store
from tests.store_helpers import feed, fill, log_lines, seqs, shut

# -- concurrency ------------------------------------------------------------------------------


def test_concurrent_appends_get_gapless_seqs_and_increasing_pos(store: Store):
    room = store.create_room("alice", "crowd", "public", [f"u{n}" for n in range(8)])
    results: list[list[dict]] = [[] for _ in range(8)]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(500):
                results[n].append(store.post_message(f"u{n}", room["id"], f"{n}/{i}", f"t{i}")[0])
        except BaseException as error:  # reported below; a thread's exception is otherwise lost
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    messages = sorted((m for result in results for m in result), key=lambda m: m["seq"])
    assert [m["seq"] for m in messages] == list(range(1, 4001))
    positions = [m["pos"] for m in messages]
    assert all(a < b for a, b in zip(positions, positions[1:], strict=False))
    for result in results:  # each writer's own messages in the order it sent them
        assert [m["seq"] for m in result] == sorted(m["seq"] for m in result)
    stored = []
    after = 0
    while after < 4000:
        page, last_seq = store.messages("alice", room["id"], after, None, 200)
        stored += page
        after = page[-1]["seq"]
    assert last_seq == 4000
    assert stored == messages


# -- durability and recovery ------------------------------------------------------------------


def build_history(store: Store) -> dict:
    """Rooms of every kind with members coming and going, and messages in each."""
    store.join_general("alice")
    store.join_general("bob")
    public = store.create_room("alice", "pub", "public", ["bob"])
    private = store.create_room("alice", "priv", "private", [])
    dm, _ = store.open_dm("bob", "alice")
    store.add_member("alice", private["id"], "carol")
    store.add_member("dave", public["id"], "dave")
    store.leave("bob", public["id"])
    for room in (public, private, dm):
        fill(store, room["id"], 5)
    return {"public": public["id"], "private": private["id"], "dm": dm["id"]}


def everything(store: Store, ids: dict) -> dict:
    """All that a reader can see of a store."""
    return {
        "snapshot": store.rooms_snapshot(),
        "events": feed(store),
        "pages": {name: store.messages("alice", room_id, None, None, 200) for name, room_id in ids.items()},
        "rooms": {name: store.rooms_for(name) for name in ("alice", "bob", "carol", "dave", "erin")},
        "feeds": {name: feed(store, name) for name in ("alice", "bob", "carol", "dave", "erin")},
    }


def test_everything_survives_close_and_reopen(store: Store, store_dir: Path):
    ids = build_history(store)
    before = everything(store, ids)
    shut(store)
    reopened = Store(str(store_dir))
    try:
        assert everything(reopened, ids) == before
        again, created = reopened.post_message("alice", ids["public"], "again", "c3")
        assert not created and again == before["pages"]["public"][0][2]
        message, created = reopened.post_message("alice", ids["public"], "after", "new")
        assert created and message["seq"] == 6 and message["pos"] == before["snapshot"][1] + 1
    finally:
        reopened.close()


def test_torn_last_line_is_cut_and_appends_go_on(store: Store, store_dir: Path):
    room = store.create_room("alice", "r", "public", [])
    fill(store, room["id"], 10)
    complete = feed(store)[:-1]
    shut(store)
    path = store_dir / "events.jsonl"
    data = path.read_bytes()
    last_start = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[: last_start + (len(data) - last_start) // 2])  # a crash mid-write

    reopened = Store(str(store_dir))
    try:
        assert feed(reopened) == complete
        assert path.read_bytes() == data[:last_start]
        page, last_seq = reopened.messages("alice", room["id"], None, None, 50)
        assert seqs(page) == list(range(1, 10)) and last_seq == 9
        message, created = reopened.post_message("alice", room["id"], "after the crash", "c10")
        assert created and message["seq"] == 10 and message["pos"] == complete[-1]["pos"] + 1
        assert path.read_bytes().endswith(b"\n")
        assert orjson.loads(log_lines(store_dir)[-1])["message"] == message
    finally:
        reopened.close()
    third = Store(str(store_dir))
    try:
        assert feed(third)[-1]["message"] == message
    finally:
        third.close()


def test_garbage_line_in_the_middle_is_skipped_with_a_warning(
    store: Store, store_dir: Path, caplog: pytest.LogCaptureFixture
):
    room = store.create_room("alice", "r", "public", [])
    fill(store, room["id"], 6)
    before = feed(store)
    shut(store)
    path = store_dir / "events.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    lines.insert(4, b"{not json at all\n")  # becomes line 5 of the file
    path.write_bytes(b"".join(lines))

    with caplog.at_level(logging.WARNING):
        reopened = Store(str(store_dir))
    try:
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(str(path) in w and re.search(r"\b5\b", w) for w in warnings), warnings
        assert feed(reopened) == before
        page, last_seq = reopened.messages("alice", room["id"], None, None, 50)
        assert seqs(page) == list(range(1, 7)) and last_seq == 6
        assert reopened.post_message("alice", room["id"], "next", "c7")[0]["seq"] == 7
    finally:
        reopened.close()


def test_a_message_line_lost_to_garbage_leaves_the_rest_readable(
    store: Store, store_dir: Path, caplog: pytest.LogCaptureFixture
):
    room = store.create_room("alice", "r", "public", [])
    messages = fill(store, room["id"], 5)
    shut(store)
    path = store_dir / "events.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if orjson.loads(line).get("pos") == messages[2]["pos"])
    lines[index] = b"\x00\x00garbage\n"
    path.write_bytes(b"".join(lines))

    with caplog.at_level(logging.WARNING):
        reopened = Store(str(store_dir))
    try:
        assert any(str(path) in r.getMessage() for r in caplog.records)
        page, last_seq = reopened.messages("alice", room["id"], None, None, 50)
        assert page == [messages[0], messages[1], messages[3], messages[4]]
        assert last_seq == 5
        assert reopened.post_message("alice", room["id"], "next", "c6")[0]["seq"] == 6
    finally:
        reopened.close()


# -- one backend per data directory -----------------------------------------------------------


def test_a_second_store_on_the_same_directory_is_refused_until_the_first_closes(
    store: Store, store_dir: Path
):
    with pytest.raises(DataDirError) as refused:
        Store(str(store_dir))
    reason = str(refused.value)
    assert reason and "\n" not in reason
    assert str(store_dir) in reason
    shut(store)
    second = Store(str(store_dir))
    second.close()

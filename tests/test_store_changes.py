"""The store's overlay of changed messages: unchanged ones are served byte for byte as stored,
changed ones rebuilt (and cached until the next change), and start-up replays the change lines
through the same code as live appends, skipping the ones that do not fit."""

from __future__ import annotations

import logging

import orjson
import pytest

from backend.store import Store
from tests.store_helpers import fill, log_lines, shut


@pytest.fixture
def room(store) -> str:
    room = store.create_room("alice", "overlay", "public", ["bob"])["id"]
    fill(store, room, 5)
    return room


def test_unchanged_messages_are_served_as_stored(store, store_dir, room):
    store.edit_message("alice", room, 2, "edited")
    served = store.events(0, 100)[0]
    stored = log_lines(store_dir)
    changed = {orjson.loads(stored[i])["pos"] for i in range(len(stored))} & set(store._changes.rebuilt)
    for line, original in zip(served, stored, strict=True):
        pos = orjson.loads(original)["pos"]
        assert (line == original) == (pos not in changed), pos
    assert len(store._changes) == 1  # only the changed message costs memory


def test_the_served_message_is_cached_until_the_next_change(store, room):
    store.react("bob", room, 3, "👍", True)
    change = store._changes.get(store._rooms.by_id[room], 3)
    first = store.events(0, 100)[0]
    assert change.served is not None
    assert store.events(0, 100)[0] == first
    store.react("alice", room, 3, "👍", True)
    lines = [orjson.loads(line) for line in store.events(0, 100)[0]]
    about_3 = [line["message"] for line in lines if line.get("message", {}).get("seq") == 3]
    assert len(about_3) == 3 and all(
        m["reactions"] == [{"emoji": "👍", "users": ["bob", "alice"]}] for m in about_3
    )


def test_start_up_replays_the_changes(store, store_dir, room):
    store.edit_message("alice", room, 1, "one")
    store.react("bob", room, 1, ":x:", True)
    store.react("bob", room, 1, ":x:", False)
    store.delete_message("alice", room, 4)
    live = store.events(0, 100)[0], store.messages("bob", room, None, None, 50)
    shut(store)
    again = Store(str(store_dir))
    try:
        assert (again.events(0, 100)[0], again.messages("bob", room, None, None, 50)) == live
        assert again.current(room, 1)["text"] == "one" and "reactions" not in again.current(room, 1)
        assert again.current(room, 4)["deleted"] is True
        assert again.current(room, 6) is None and again.current("nope", 1) is None
    finally:
        again.close()


def test_change_lines_that_do_not_fit_are_skipped(store, store_dir, room, caplog):
    store.edit_message("alice", room, 1, "fine")
    last = store.pos
    shut(store)
    bad = [
        {"type": "edit", "pos": last + 1, "room": room, "seq": 99, "user": "alice", "text": "x", "ts": "t"},
        {
            "type": "react",
            "pos": last + 2,
            "room": room,
            "seq": 1,
            "user": "bob",
            "emoji": 5,
            "added": True,
            "ts": "t",
        },
        {"type": "delete", "pos": last + 3, "room": "nowhere", "seq": 1, "user": "alice", "ts": "t"},
        {"type": "edit", "pos": last + 4, "room": room, "seq": 1, "user": "alice", "ts": "t"},
    ]
    with open(store_dir / "events.jsonl", "ab") as log:
        log.writelines(orjson.dumps(record) + b"\n" for record in bad)
    with caplog.at_level(logging.WARNING):
        again = Store(str(store_dir))
    try:
        assert again.current(room, 1)["text"] == "fine"
        assert sum("skipping an unusable event" in r.message for r in caplog.records) == 4
        assert again.pos == last
    finally:
        again.close()

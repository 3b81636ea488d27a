"""The backend's store on its own, event feeds: which events concern each user, their shape,
reading after a position in batches, waiting for an event, the rooms snapshot, and hidden rooms."""

from __future__ import annotations

import threading
import time

import orjson
import pytest

from backend.refusals import NotFound
from backend.store import Store
from tests.store_helpers import feed, fill, general_id

# -- event feeds ------------------------------------------------------------------------------


def test_user_feed_holds_exactly_the_events_that_concern_the_user(store: Store):
    at = {"general created": 1}  # what happened -> its pos

    def mark(name: str) -> None:
        at[name] = store.pos

    for person in ("alice", "bob", "carol"):
        store.join_general(person)
        mark(f"{person} joins general")
    general = general_id(store)
    public = store.create_room("alice", "pub", "public", ["bob"])["id"]
    mark("pub created")
    private = store.create_room("alice", "priv", "private", ["bob"])["id"]
    mark("priv created")
    dm = store.open_dm("alice", "bob")[0]["id"]
    mark("dm created")
    for name, room in (("general", general), ("pub", public), ("priv", private), ("dm", dm)):
        store.post_message("alice", room, "early", f"early-{name}")
        mark(f"early in {name}")
    store.add_member("carol", public, "carol")
    mark("carol joins pub")
    store.add_member("alice", private, "carol")
    mark("carol added to priv")
    store.post_message("bob", public, "late", "late-pub")
    mark("late in pub")
    store.post_message("bob", private, "late", "late-priv")
    mark("late in priv")
    store.leave("carol", private)
    mark("carol leaves priv")
    store.post_message("alice", private, "after carol", "after-priv")
    mark("after carol in priv")
    store.post_message("alice", dm, "late", "late-dm")
    mark("late in dm")
    store.create_room("bob", "hidden", "private", [])
    mark("hidden created")
    store.leave("bob", public)
    mark("bob leaves pub")
    store.post_message("alice", public, "after bob", "after-pub")
    mark("after bob in pub")

    every = list(at)
    # carol: general from her joining, pub's creation (public) and from her joining, priv from
    # being added up to and including the event that removed her; nothing of the DM or "hidden".
    expected = {
        "carol": [
            "general created",
            "carol joins general",
            "pub created",
            "early in general",
            "carol joins pub",
            "carol added to priv",
            "late in pub",
            "late in priv",
            "carol leaves priv",
            "bob leaves pub",
            "after bob in pub",
        ],
        "bob": [e for e in every if e not in ("alice joins general", "after bob in pub")],
        "alice": [e for e in every if e != "hidden created"],
        "dave": ["general created", "pub created"],  # in no room at all: only the creation of public rooms
    }
    for person, names in expected.items():
        assert [event["pos"] for event in feed(store, person)] == [at[name] for name in names], person
    assert [event["pos"] for event in feed(store)] == list(range(1, store.pos + 1))


def test_feed_events_have_the_contract_shape(store: Store):
    store.join_general("alice")
    store.post_message("alice", general_id(store), "hi", "c1")
    room_event, message_event = feed(store, "alice")[-2:]
    assert room_event["type"] == "room" and room_event["room"]["members"] == ["alice"]
    assert message_event == {
        "type": "message",
        "pos": message_event["message"]["pos"],
        "message": store.messages("alice", general_id(store), None, None, 1)[0][0],
    }


def test_feed_after_a_position_and_in_batches(store: Store):
    store.join_general("alice")
    fill(store, general_id(store), 30)
    every = feed(store)
    lines, cursor, more = store.events(5, 10)
    assert [orjson.loads(line)["pos"] for line in lines] == list(range(6, 16))
    assert cursor == 15 and more
    lines, cursor, more = store.events(cursor, 1000)
    assert [orjson.loads(line) for line in lines] == every[15:]
    assert cursor == store.pos and not more
    assert store.events(store.pos, 10) == ([], store.pos, False)


def test_wait_returns_as_soon_as_an_event_arrives(store: Store):
    store.join_general("alice")
    general = general_id(store)
    after = store.pos
    later = threading.Timer(0.2, store.post_message, ("alice", general, "wake up", "w1"))
    later.start()
    try:
        started = time.monotonic()
        lines, cursor, more = store.events(after, 500, wait=5, username="alice")
        elapsed = time.monotonic() - started
    finally:
        later.join()
    assert [orjson.loads(line)["message"]["text"] for line in lines] == ["wake up"]
    assert cursor == after + 1 and not more
    assert 0.15 <= elapsed < 2


def test_wait_returns_empty_at_the_timeout(store: Store):
    store.join_general("alice")
    after = store.pos
    started = time.monotonic()
    assert store.events(after, 500, wait=0.5, username="alice") == ([], after, False)
    assert store.events(after, 500, wait=0.3) == ([], after, False)
    assert time.monotonic() - started >= 0.75


def test_wait_ignores_events_of_rooms_the_user_cannot_see(store: Store):
    store.join_general("carol")
    secret = store.create_room("alice", "secret", "private", [])
    after = store.pos
    later = threading.Timer(0.1, store.post_message, ("alice", secret["id"], "psst", "p1"))
    later.start()
    try:
        started = time.monotonic()
        lines, _, more = store.events(after, 500, wait=0.6, username="carol")
        elapsed = time.monotonic() - started
    finally:
        later.join()
    assert lines == [] and not more
    assert elapsed >= 0.5


def test_rooms_snapshot_has_every_room_with_its_members(store: Store):
    rooms, pos = store.rooms_snapshot()
    assert [(r["name"], r["members"], r["created_by"]) for r in rooms] == [("general", [], None)]
    assert pos == store.pos == 1
    store.join_general("alice")
    private = store.create_room("alice", "priv", "private", ["bob"])
    dm, _ = store.open_dm("carol", "alice")
    store.leave("bob", private["id"])
    rooms, pos = store.rooms_snapshot()
    assert pos == store.pos == 5
    assert [(r["id"], r["kind"], r["visibility"], r["members"]) for r in rooms] == [
        (general_id(store), "group", "public", ["alice"]),
        (private["id"], "group", "private", ["alice"]),
        (dm["id"], "dm", "private", ["alice", "carol"]),
    ]
    assert rooms[2]["name"] == "alice, carol"


def test_hidden_rooms_do_not_exist_for_non_members(store: Store):
    private = store.create_room("alice", "priv", "private", [])
    dm, _ = store.open_dm("alice", "bob")
    for room_id in (private["id"], dm["id"], "r-no-such-room"):
        with pytest.raises(NotFound):
            store.messages("carol", room_id, None, None, 50)
    assert [r["name"] for r in store.rooms_for("carol")] == ["general"]

"""Who an event concerns is decided once, in the backend: both feeds read the same answer.

The store on its own (no Flask): the per-user feed and the hub's addressed feed agree on every
event, a kind the store has never seen goes to its room's members, a rule in
``backend.audience.RULES`` narrows a kind to the users it names, and a restart decides the same.
"""

from __future__ import annotations

import orjson
import pytest

from backend import audience
from backend.audience import Named
from backend.store import Store
from common.feed import EVERYONE
from tests.store_helpers import feed, general_id, shut

PEOPLE = ("alice", "bob", "carol", "dave")


def addressed(store: Store, after: int = 0) -> list[tuple[dict, list[str] | str]]:
    items, _, more = store.addressed_events(after, 100_000)
    assert not more
    return [(orjson.loads(line), users) for line, users in items]


def check_both_feeds_agree(store: Store, after: int = 0) -> None:
    """Each person's feed is exactly the events the hub's feed names them (or everyone) for."""
    items = addressed(store, after)
    assert [event["pos"] for event, _ in items] == list(range(after + 1, store.pos + 1))
    for person in PEOPLE:
        named = [event for event, users in items if users == EVERYONE or person in users]
        assert feed(store, person, after) == named, person


def busy_store(store: Store) -> None:
    for person in ("alice", "bob", "carol"):
        store.join_general(person)
    public = store.create_room("alice", "pub", "public", ["bob"])["id"]
    private = store.create_room("alice", "priv", "private", ["bob"])["id"]
    store.post_message("alice", private, "before carol", "p1")
    store.add_member("alice", private, "carol")
    store.post_message("bob", private, "with carol", "p2")
    store.leave("carol", private)
    store.post_message("alice", private, "after carol", "p3")
    store.add_member("dave", public, "dave")
    store.post_message("dave", public, "hello", "d1")
    store.open_dm("alice", "dave")


def test_the_per_user_feed_and_the_hubs_feed_agree_on_every_event(store: Store):
    busy_store(store)
    check_both_feeds_agree(store)
    items = addressed(store)
    assert [event["room"]["name"] for event, users in items if users == EVERYONE] == ["general", "pub"]
    removed = next(event for event, _ in items if event["type"] == "room" and event.get("action") == "left")
    assert "carol" in dict((e["pos"], u) for e, u in items)[removed["pos"]]  # the event that removes her


def test_an_audience_as_of_an_old_position_is_the_members_then(store: Store):
    store.join_general("alice")
    room = store.create_room("alice", "priv", "private", ["bob"])["id"]
    early = store.post_message("alice", room, "early", "e1")[0]["pos"]
    store.add_member("alice", room, "carol")
    store.leave("bob", room)
    assert sorted(store.audience(early).users()) == ["alice", "bob"]
    assert "carol" not in store.audience(early) and "bob" in store.audience(early)


def test_a_new_kind_reaches_its_rooms_members_and_survives_a_restart(store_dir, store: Store):
    busy_store(store)
    private = next(r["id"] for r in store.rooms_for("alice") if r["name"] == "priv")
    start = store.pos
    pinned = store.append_event({"type": "pin", "room": private, "seq": 1})
    assert pinned == {"type": "pin", "pos": start + 1, "room": private, "seq": 1}
    assert addressed(store, start) == [(pinned, ["alice", "bob"])]
    assert feed(store, "bob", start) == [pinned] and feed(store, "carol", start) == []
    shut(store)
    again = Store(str(store_dir))
    try:
        assert feed(again, "alice", start) == [pinned] and feed(again, "carol", start) == []
        check_both_feeds_agree(again)
    finally:
        again.close()


def test_a_rule_narrows_a_kind_to_the_users_it_names(store_dir, store: Store, monkeypatch):
    monkeypatch.setitem(audience.RULES, "nudge", lambda record, room: Named([record["user"]]))
    store.join_general("alice")
    store.join_general("bob")
    start = store.pos
    nudge = store.append_event({"type": "nudge", "room": general_id(store), "user": "bob"})
    assert addressed(store, start) == [(nudge, ["bob"])]
    assert feed(store, "bob", start) == [nudge] and feed(store, "alice", start) == []
    shut(store)
    again = Store(str(store_dir))  # the rule decides again from the stored event
    try:
        assert feed(again, "bob", start) == [nudge] and feed(again, "alice", start) == []
    finally:
        again.close()


def test_append_event_refuses_unknown_rooms_and_the_kinds_with_methods(store: Store):
    before = store.pos
    with pytest.raises(KeyError):
        store.append_event({"type": "pin", "room": "r-nowhere", "seq": 1})
    for kind in ("message", "room", None):
        with pytest.raises(ValueError):
            store.append_event({"type": kind, "room": general_id(store)})
    assert store.pos == before

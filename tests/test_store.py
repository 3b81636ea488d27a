"""The backend's store on its own (no Flask, no server): paging, idempotent posting, concurrent
appends, durability across a reopen, crash recovery, the one-backend lock and the event feeds."""

from __future__ import annotations

import logging
import re
import threading
import time
from pathlib import Path

import orjson
import pytest

from backend.datadir import DataDirError
from backend.store import Store
from common.errors import ApiError


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """A data directory for one store."""
    return tmp_path / "store"


@pytest.fixture
def store(store_dir: Path):
    """A store on an empty data directory, closed at teardown unless the test closed it."""
    opened = Store(str(store_dir))
    yield opened
    if not getattr(opened, "closed_by_test", False):
        opened.close()


def shut(store: Store) -> None:
    """Close the fixture's store in the middle of a test (teardown then leaves it alone)."""
    store.close()
    store.closed_by_test = True


def general_id(store: Store) -> str:
    """The id of the room ``general``."""
    rooms, _ = store.rooms_snapshot()
    return next(room["id"] for room in rooms if room["name"] == "general" and room["created_by"] is None)


def fill(store: Store, room_id: str, count: int, sender: str = "alice") -> list[dict]:
    """Post ``count`` messages and return them."""
    return [store.post_message(sender, room_id, f"message {i}", f"c{i}")[0] for i in range(1, count + 1)]


def seqs(page: list[dict]) -> list[int]:
    """The seq of each message of a page."""
    return [message["seq"] for message in page]


def feed(store: Store, username: str | None = None, after: int = 0) -> list[dict]:
    """Every event after ``after`` (for ``username``, or all), parsed."""
    lines, _, more = store.events(after, 100_000, username=username)
    assert not more
    return [orjson.loads(line) for line in lines]


def log_lines(store_dir: Path) -> list[bytes]:
    """The lines of ``events.jsonl``."""
    return (store_dir / "events.jsonl").read_bytes().splitlines()


# -- history pages ----------------------------------------------------------------------------


@pytest.fixture
def room_of_250(store: Store) -> str:
    """A public room holding messages seq 1 to 250, alice a member."""
    room = store.create_room("alice", "busy", "public", [])
    fill(store, room["id"], 250)
    return room["id"]


def test_latest_page_by_limit(store: Store, room_of_250: str):
    for limit, expected in [(50, range(201, 251)), (1, [250]), (200, range(51, 251))]:
        page, last_seq = store.messages("alice", room_of_250, None, None, limit)
        assert seqs(page) == list(expected)
        assert last_seq == 250


def test_page_after(store: Store, room_of_250: str):
    cases = [
        (0, 200, range(1, 201)),
        (0, 1, [1]),
        (100, 50, range(101, 151)),
        (240, 50, range(241, 251)),
        (249, 1, [250]),
        (250, 200, []),  # after the last one: nothing yet
        (300, 10, []),
    ]
    for after, limit, expected in cases:
        page, last_seq = store.messages("alice", room_of_250, after, None, limit)
        assert seqs(page) == list(expected), (after, limit)
        assert last_seq == 250


def test_page_before(store: Store, room_of_250: str):
    cases = [
        (1, 50, []),  # nothing before the first message
        (2, 50, [1]),
        (100, 10, range(90, 100)),
        (100, 1, [99]),
        (251, 200, range(51, 251)),
        (201, 200, range(1, 201)),
        (1000, 3, [248, 249, 250]),
    ]
    for before, limit, expected in cases:
        page, last_seq = store.messages("alice", room_of_250, None, before, limit)
        assert seqs(page) == list(expected), (before, limit)
        assert last_seq == 250


def test_pages_hold_the_stored_messages(store: Store, room_of_250: str):
    page, _ = store.messages("alice", room_of_250, 10, None, 2)
    assert [(m["text"], m["client_id"], m["sender"], m["room"]) for m in page] == [
        ("message 11", "c11", "alice", room_of_250),
        ("message 12", "c12", "alice", room_of_250),
    ]


def test_empty_room_pages(store: Store):
    room = store.create_room("alice", "quiet", "public", [])
    assert store.messages("alice", room["id"], None, None, 50) == ([], 0)
    assert store.messages("alice", room["id"], 0, None, 50) == ([], 0)
    assert store.messages("alice", room["id"], None, 1, 50) == ([], 0)


# -- idempotent posting -----------------------------------------------------------------------


def test_repeated_client_id_returns_the_first_message_and_stores_nothing(store: Store, store_dir: Path):
    room = store.create_room("alice", "r", "public", ["bob"])
    first, created = store.post_message("alice", room["id"], "hello", "same-id")
    assert created
    lines_before, pos_before = log_lines(store_dir), store.pos
    again, created = store.post_message("alice", room["id"], "hello again, different text", "same-id")
    assert not created
    assert again == first
    assert log_lines(store_dir) == lines_before
    assert store.pos == pos_before
    assert store.messages("alice", room["id"], None, None, 50)[1] == 1


def test_concurrent_repeats_of_a_client_id_store_one_message(store: Store, store_dir: Path):
    room = store.create_room("alice", "r", "public", [])
    results: list[tuple[dict, bool]] = []
    start = threading.Barrier(8)

    def send() -> None:
        start.wait()
        results.append(store.post_message("alice", room["id"], "once", "retry-me"))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(created for _, created in results) == [False] * 7 + [True]
    assert len({message["id"] for message, _ in results}) == 1
    assert sum(b'"retry-me"' in line for line in log_lines(store_dir)) == 1


def test_same_client_id_from_another_sender_or_room_is_a_new_message(store: Store):
    one = store.create_room("alice", "one", "public", ["bob"])
    two = store.create_room("alice", "two", "public", [])
    first, _ = store.post_message("alice", one["id"], "hi", "shared")
    by_bob, created_bob = store.post_message("bob", one["id"], "hi", "shared")
    elsewhere, created_elsewhere = store.post_message("alice", two["id"], "hi", "shared")
    assert created_bob and created_elsewhere
    assert len({first["id"], by_bob["id"], elsewhere["id"]}) == 3
    assert (by_bob["seq"], elsewhere["seq"]) == (2, 1)
    assert store.find_message("bob", one["id"], "shared") == by_bob
    assert store.find_message("carol", one["id"], "shared") is None


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
        with pytest.raises(ApiError) as error:
            store.messages("carol", room_id, None, None, 50)
        assert (error.value.status, error.value.code) == (404, "not_found")
    assert [r["name"] for r in store.rooms_for("carol")] == ["general"]

"""The backend's store on its own, paging and idempotency: history pages by limit, after and
before, empty rooms, and posting the same client id again (also concurrently) storing one message."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from backend.store import Store
from tests.store_helpers import fill, log_lines, seqs

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

"""The search index beside the log: removed, damaged, stale or behind, it is rebuilt from the log.

These tests run the store and its index without Flask; ``results`` asks the index what a search
for ``q`` by anyone in every room would find.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from backend import compaction, fts, searchindex
from backend.searchindex import INDEX_FILE
from backend.store import Store
from tests.store_helpers import general_id, shut


def caught_up(store: Store, timeout: float = 20) -> None:
    """Wait until the index follows the log and holds all of it."""
    deadline = time.monotonic() + timeout
    while not (store.search.following and store.search.indexed >= store.pos):
        assert time.monotonic() < deadline, "the index did not catch up"
        time.sleep(0.01)


def results(store: Store, q: str) -> list[int]:
    """The pos of every message matching ``q``, newest first, once the index has caught up."""
    caught_up(store)
    return store.search.search(fts.match_expression(q), None, 1000)


def committed(directory: Path) -> int:
    """The last pos the index file holds, as another process reading it sees it."""
    db = sqlite3.connect(directory / INDEX_FILE)
    try:
        return int(db.execute("SELECT value FROM meta WHERE key = 'pos'").fetchone()[0])
    finally:
        db.close()


def general(store: Store) -> str:
    """The id of ``general``, with alice in it."""
    store.join_general("alice")
    return general_id(store)


def open_store(directory: Path) -> Store:
    """A store on ``directory`` with its index following the log."""
    opened = Store(str(directory))
    opened.search.start()
    return opened


@pytest.fixture
def filled(store_dir: Path) -> tuple[Path, dict[str, list[int]]]:
    """A closed data directory with messages in it, and what a few searches found there."""
    store = open_store(store_dir)
    room = general(store)
    for i in range(300):
        store.post_message("alice", room, f"note {i} {'even' if i % 2 == 0 else 'odd'} café", f"c{i}")
    found = {q: results(store, q) for q in ("cafe", "even", "note 7", "odd cafe")}
    assert len(found["cafe"]) == 300 and len(found["even"]) == 150
    store.close()
    return store_dir, found


def test_a_restart_resumes_where_the_index_stopped(filled):
    directory, found = filled
    store = open_store(directory)
    try:
        assert {q: results(store, q) for q in found} == found
        assert store.search.rebuilds == 0
        store.post_message("alice", general(store), "one more café", "c-more")
        assert len(results(store, "cafe")) == 301
    finally:
        store.close()


@pytest.mark.parametrize("where", ["in the backend", "in a process of its own"])
def test_a_removed_index_is_rebuilt_with_the_same_results(filled, where, monkeypatch):
    # Far behind the log, the index is caught up by backend/searchbuild.py in another process.
    monkeypatch.setattr(
        searchindex, "SEPARATE_BUILD_OVER", 10 if where == "in a process of its own" else 10**9
    )
    directory, found = filled
    os.remove(directory / INDEX_FILE)
    store = open_store(directory)
    try:
        assert {q: results(store, q) for q in found} == found
    finally:
        store.close()


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(b"this is not a database at all\n" * 100),
        lambda path: path.write_bytes(path.read_bytes()[:1000]),
        lambda path: path.write_bytes(b""),
    ],
    ids=["garbage", "truncated", "empty"],
)
def test_a_damaged_index_is_rebuilt(filled, damage):
    directory, found = filled
    for suffix in ("-wal", "-shm"):
        Path(f"{directory / INDEX_FILE}{suffix}").unlink(missing_ok=True)
    damage(directory / INDEX_FILE)
    store = open_store(directory)
    try:
        assert {q: results(store, q) for q in found} == found
    finally:
        store.close()


def test_an_index_of_another_log_is_rebuilt(filled, tmp_path):
    directory, found = filled
    other = open_store(tmp_path / "other")
    other.post_message("alice", general(other), "a different log", "x")
    caught_up(other)
    other.close()
    os.replace(tmp_path / "other" / INDEX_FILE, directory / INDEX_FILE)
    store = open_store(directory)
    try:
        assert {q: results(store, q) for q in found} == found
        assert results(store, "different") == []
        assert store.search.rebuilds == 1
    finally:
        store.close()


def test_an_index_ahead_of_the_log_is_rebuilt(filled, tmp_path):
    # The log was restored from an older copy: the index holds messages the log no longer has.
    directory, found = filled
    log = directory / "events.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:-100]))
    store = open_store(directory)
    try:
        assert results(store, "cafe") == found["cafe"][100:]
        assert store.search.rebuilds == 1
    finally:
        store.close()


@pytest.mark.parametrize("where", ["in the backend", "in a process of its own"])
def test_edits_and_deletions_survive_a_rebuild(store_dir, where, monkeypatch):
    store = open_store(store_dir)
    room = general(store)
    first, _ = store.post_message("alice", room, "draft text", "c1")
    second, _ = store.post_message("alice", room, "mistake text", "c2")
    # The lines of a change to a message, as backend/lifecycle.py appends them (docs/storage.md).
    store.edit_message("alice", room, first["seq"], "final")
    store.delete_message("alice", room, second["seq"])
    store.react("alice", room, first["seq"], "👍", True)
    expected = {"draft": [], "final": [first["pos"]], "mistake": [], "text": []}
    assert {q: results(store, q) for q in expected} == expected
    shut(store)
    os.remove(store_dir / INDEX_FILE)
    monkeypatch.setattr(
        searchindex, "SEPARATE_BUILD_OVER", 1 if where == "in a process of its own" else 10**9
    )
    store = open_store(store_dir)
    try:
        assert {q: results(store, q) for q in expected} == expected
    finally:
        store.close()


def following(store_dir: Path, monkeypatch, linger: float) -> tuple[Store, str]:
    """A store whose index follows the log and lingers ``linger`` s after an append, and its general."""
    store = open_store(store_dir)
    room = general(store)
    caught_up(store)
    monkeypatch.setattr(searchindex, "LINGER", linger)
    return store, room


def test_following_the_log_one_transaction_takes_what_was_appended_during_the_linger(store_dir, monkeypatch):
    store, room = following(store_dir, monkeypatch, 2)
    try:
        before = store.pos
        sent = []
        for i in range(5):  # apart, as people send: time enough to commit each on its own
            sent.append(store.post_message("alice", room, f"batched {i}", f"b{i}")[0]["pos"])
            time.sleep(0.05)
        seen = [committed(store_dir)]
        deadline = time.monotonic() + 10
        while seen[-1] < store.pos and time.monotonic() < deadline:
            time.sleep(0.005)
            if committed(store_dir) != seen[-1]:
                seen.append(committed(store_dir))
        assert seen == [before, store.pos]  # nothing, then all five at once
        assert results(store, "batched") == sent[::-1]
    finally:
        store.close()


def test_a_search_waiting_for_the_index_cuts_the_linger_short(store_dir, monkeypatch):
    store, room = following(store_dir, monkeypatch, 10)
    try:
        message, _ = store.post_message("alice", room, "urgent words", "u1")
        time.sleep(0.1)
        assert store.search.indexed < message["pos"]  # lingering
        started = time.monotonic()
        assert store.search.wait_for(message["pos"], 5)
        assert time.monotonic() - started < 1
        assert store.search.search(fts.match_expression("urgent"), None, 10) == [message["pos"]]
    finally:
        store.close()


def test_stopping_during_a_linger_is_prompt_and_loses_nothing(store_dir, monkeypatch):
    store, room = following(store_dir, monkeypatch, 10)
    message, _ = store.post_message("alice", room, "lingering words", "l1")
    time.sleep(0.1)
    started = time.monotonic()
    store.close()
    assert time.monotonic() - started < 1
    # The message is in the log only, as after a crash during the linger: the index resumes.
    assert committed(store_dir) == message["pos"] - 1
    store = open_store(store_dir)
    try:
        assert results(store, "lingering") == [message["pos"]]
        assert store.search.rebuilds == 0
    finally:
        store.close()


def test_a_search_before_the_index_caught_up_says_partial(make_backend_app):
    app = make_backend_app({"START_SEARCH_INDEX": False})
    client = app.test_client()
    token = app.extensions["test.tokens"]["alice"]
    headers = {"Authorization": f"Bearer {token}"}
    room = client.get("/api/rooms", headers=headers).get_json()["rooms"][0]["id"]
    answer = client.post(
        f"/api/rooms/{room}/messages", json={"text": "waiting", "client_id": "w1"}, headers=headers
    )
    assert answer.status_code == 201  # posting never waits for the index
    body = client.get("/api/search?q=waiting", headers=headers).get_json()
    assert body == {"results": [], "more": False, "partial": True}
    app.extensions["chat.store"].search.start()
    caught_up(app.extensions["chat.store"])
    body = client.get("/api/search?q=waiting", headers=headers).get_json()
    assert [m["text"] for m in body["results"]] == ["waiting"] and body["partial"] is False


@pytest.mark.parametrize("index", ["kept", "removed"])
def test_after_compaction_the_index_finds_the_same(store_dir, index):
    store = open_store(store_dir)
    room = general(store)
    first, _ = store.post_message("alice", room, "draft wording", "c1")
    second, _ = store.post_message("alice", room, "mistake wording", "c2")
    third, _ = store.post_message("alice", room, "plain wording", "c3")
    store.edit_message("alice", room, first["seq"], "better wording")
    store.edit_message("alice", room, first["seq"], "final wording")
    store.delete_message("alice", room, second["seq"])
    queries = ("wording", "draft", "better", "final", "mistake", "plain")
    expected = {q: results(store, q) for q in queries}
    assert expected["wording"] == [third["pos"], first["pos"]] and expected["final"] == [first["pos"]]
    store.close()
    compaction.compact(str(store_dir))
    if index == "removed":
        os.remove(store_dir / INDEX_FILE)
    store = open_store(store_dir)
    try:
        assert {q: results(store, q) for q in queries} == expected
    finally:
        store.close()


@pytest.mark.live
def test_the_real_backend_rebuilds_a_removed_index_and_keeps_it_across_restarts(live, http_user, data_dir):
    alice = http_user("alice")
    rooms = alice.get(f"{live.url}/api/rooms", timeout=5).json()["rooms"]
    room = next(r["id"] for r in rooms if r["name"] == "general")
    for i in range(5):
        answer = alice.post(
            f"{live.url}/api/rooms/{room}/messages",
            json={"text": f"restart résumé {i}", "client_id": f"r{i}"},
        )
        assert answer.status_code == 201, answer.text

    def found() -> list[int]:
        deadline = time.monotonic() + 20
        while True:
            body = alice.get(f"{live.url}/api/search", params={"q": "resume"}, timeout=10).json()
            if not body["partial"] or time.monotonic() > deadline:
                return [m["seq"] for m in body["results"]]
            time.sleep(0.1)

    before = found()
    assert len(before) == 5
    live.backend.stop()
    os.remove(data_dir / INDEX_FILE)
    live.backend.restart()
    assert found() == before  # rebuilt in the background by the restarted backend
    live.backend.kill9()
    live.backend.restart()
    assert found() == before

"""The store's checkpoint: a start from it plus the log after it serves exactly what a start from the
whole log serves, and a torn, corrupted or stale checkpoint is ignored (the whole log replayed).

Real stores on real data directories; the checkpoint is written the way the server writes it, by a
forked process, with the thresholds lowered so that a few dozen events trigger it.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from backend import checkpoint
from backend.store import Store
from tests.store_helpers import feed, general_id, shut
from tests.timing import wait_for

LOADED = "indexes loaded up to pos"


def activity(store: Store, tag: str) -> str:
    """Rooms, members coming and going, messages, a file, edits, a deletion, reactions, reads."""
    room = store.create_room("alice", f"room {tag}", "private", ["alice", "bob"])["id"]
    store.add_member("alice", room, "carol")
    for i in range(1, 13):
        store.post_message("alice" if i % 2 else "bob", room, f"{tag} {i}", f"{tag}-{i}")
    store.post_message("bob", room, "a file", f"{tag}-file", file=_file(tag))
    store.edit_message("alice", room, 1, f"{tag} 1, edited")
    store.delete_message("bob", room, 2)
    store.react("carol", room, 3, "👍", True)
    store.leave("carol", room)
    store.mark_read("alice", room, 5)
    store.join_general("alice")
    store.post_message("alice", general_id(store), f"{tag} in general", f"{tag}-g")
    store.open_dm("alice", f"dm-{tag}")
    return room


def _file(tag: str) -> dict:
    digest = (tag.encode().hex() * 64)[:64]
    return {
        "id": f"f{tag}",
        "name": "a.txt",
        "size": 1,
        "type": "text/plain",
        "url": "/x",
        "image": None,
        "sha256": digest,
    }


def served(store: Store) -> dict:
    """Everything the store answers from its indexes, for comparing two starts."""
    rooms, pos = store.rooms_snapshot()
    pages = {}
    for room in rooms:
        reader = room["members"][0] if room["members"] else "alice"
        pages[room["id"]] = store.messages(reader, room["id"], 0, None, 1000) if room["members"] else None
    lines, cursor, more = store.addressed_events(0, 100_000)
    return {
        "pos": pos,
        "rooms": rooms,
        "pages": pages,
        "feed": feed(store),
        "addressed": (lines, cursor, more),
        "alice": [r["id"] for r in store.rooms_for("alice")],
        "files": {f"f{tag}": store.file_message(f"f{tag}") for tag in ("one", "two")},
    }


EVERY = 20


@pytest.fixture
def often(monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkpoint after every 20 events appended, and after a start that replayed 20 lines."""
    monkeypatch.setattr(checkpoint, "EVERY", EVERY)
    monkeypatch.setattr(checkpoint, "AFTER_REPLAYED", EVERY)


def written(store_dir: Path, pos: int) -> Path:
    """The checkpoint once the one made at ``pos`` is in place (its writer runs apart)."""
    assert wait_for(lambda: checkpoint.written_pos(str(store_dir)) == pos, 10), "no checkpoint at that pos"
    return store_dir / checkpoint.FILE


def last_checkpoint(store: Store) -> int:
    """The pos of the latest checkpoint a store serving since an empty directory has made."""
    return store.pos // EVERY * EVERY


def reopened(store_dir: Path) -> tuple[Store, dict]:
    store = Store(str(store_dir))
    try:
        return store, served(store)
    finally:
        store.close()


def full_replay(store_dir: Path, tmp_path: Path) -> dict:
    """What a start from the whole log serves (a copy of the directory without its checkpoint)."""
    copy = tmp_path / "full"
    shutil.copytree(store_dir, copy, ignore=shutil.ignore_patterns(checkpoint.FILE, ".lock", "search*"))
    return reopened(copy)[1]


def test_a_start_from_the_checkpoint_serves_what_the_whole_log_serves(
    often, store, store_dir, tmp_path, caplog
):
    activity(store, "one")
    activity(store, "two")  # checkpoints at every 20th event, and a few events after the last
    assert store.pos % EVERY
    written(store_dir, last_checkpoint(store))
    expected = served(store)
    shut(store)
    with caplog.at_level(logging.INFO, logger="backend.store"):
        _, got = reopened(store_dir)
    assert LOADED in caplog.text
    assert got == expected
    assert full_replay(store_dir, tmp_path) == expected


def test_a_long_replay_at_start_writes_a_checkpoint_for_the_next(often, store, store_dir, tmp_path, caplog):
    activity(store, "one")
    written(store_dir, last_checkpoint(store))
    expected = served(store)
    pos = store.pos
    shut(store)
    (store_dir / checkpoint.FILE).unlink()
    assert reopened(store_dir)[1] == expected  # the whole log replayed: more than 20 lines
    written(store_dir, pos)
    with caplog.at_level(logging.INFO, logger="backend.store"):
        assert reopened(store_dir)[1] == expected
    assert LOADED in caplog.text


def _damaged(store_dir: Path, damage) -> tuple[dict, str]:
    """Close the store with a checkpoint, damage it, start again: what it serves and its log."""
    store = Store(str(store_dir))
    activity(store, "one")
    activity(store, "two")
    path = written(store_dir, last_checkpoint(store))
    expected = served(store)
    store.close()
    damage(path)
    return expected, path


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda path: path.write_bytes(path.read_bytes()[:-100]), "torn or corrupted"),
        (lambda path: path.write_bytes(_flip(path.read_bytes(), -500)), "torn or corrupted"),
        (lambda path: path.write_bytes(b"not a checkpoint"), "not a checkpoint of this version"),
    ],
    ids=["cut short", "a byte changed", "garbage"],
)
def test_a_torn_or_corrupted_checkpoint_is_ignored(often, store_dir, caplog, damage, why):
    expected, _ = _damaged(store_dir, damage)
    with caplog.at_level(logging.INFO):
        _, got = reopened(store_dir)
    assert why in caplog.text and LOADED not in caplog.text
    assert got == expected


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


def test_a_checkpoint_of_another_log_is_stale_and_ignored(often, store_dir, tmp_path, caplog):
    other = tmp_path / "other"
    expected, path = _damaged(store_dir, lambda path: None)
    store = Store(str(other))  # a different log, with a checkpoint of its own
    activity(store, "two")
    written(other, last_checkpoint(store))
    store.close()
    shutil.copy(other / checkpoint.FILE, path)  # restored from the wrong backup
    with caplog.at_level(logging.INFO):
        _, got = reopened(store_dir)
    assert "stale" in caplog.text and LOADED not in caplog.text
    assert got == expected


def test_a_log_cut_below_the_checkpoint_makes_it_stale(often, store, store_dir, caplog):
    activity(store, "one")
    written(store_dir, last_checkpoint(store))
    shut(store)
    log_path = store_dir / "events.jsonl"
    lines = log_path.read_bytes().splitlines(keepends=True)
    log_path.write_bytes(b"".join(lines[: EVERY - 5]))  # an older copy of the log, shorter than the prefix
    with caplog.at_level(logging.INFO):
        store, got = reopened(store_dir)
    assert "stale" in caplog.text and LOADED not in caplog.text
    assert got["pos"] == EVERY - 5


def test_an_unfinished_checkpoint_is_removed_at_start(store_dir, caplog):
    store = Store(str(store_dir))
    store.close()
    leftover = store_dir / f"{checkpoint.FILE}.tmp-12345"  # a writer killed before its rename
    leftover.write_bytes(b"chat checkpoint\n{half")
    with caplog.at_level(logging.WARNING):
        reopened(store_dir)
    assert not leftover.exists() and "unfinished checkpoint" in caplog.text
    assert not (store_dir / checkpoint.FILE).exists()

"""Fixtures and helpers for the tests of the backend's store on its own (no Flask, no server).

``tests/conftest.py`` registers this module as a pytest plugin, so its fixtures are there by name.

``store_dir``
    A data directory for one store (not yet created).

``store``
    A :class:`Store` on that directory, closed at teardown unless the test closed it with
    :func:`shut`.

The plain helpers (``shut``, ``general_id``, ``fill``, ``seqs``, ``feed``, ``log_lines``, and
``assert_whole_lines`` for any data directory, a live backend's too) are imported by name.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from backend.store import Store


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


def assert_whole_lines(data_dir: Path) -> None:
    """Every line of every data file parses, and ``pos`` only grows in ``events.jsonl``."""
    for path in sorted(data_dir.glob("*.jsonl")):
        content = path.read_bytes()
        assert not content or content.endswith(b"\n"), f"{path.name} ends in a partial line"
        records = [orjson.loads(line) for line in content.splitlines()]
        assert all(isinstance(record, dict) for record in records), path.name
        if path.name == "events.jsonl":
            positions = [record["pos"] for record in records]
            assert positions == sorted(set(positions)), "pos not strictly increasing in events.jsonl"

"""Crash at every point of a write: the data files are cut where a crash could leave them, then reopened.

Each test records every append the store makes (which file, from which byte to which), cuts the
files at a point drawn by hypothesis, opens a new :class:`backend.store.Store` on the result and
checks what a restarted backend must offer: it starts; it holds exactly the records that were
complete before the cut (so nothing acknowledged is lost and nothing torn is served); every room's
``seq`` runs 1..N and ``pos`` only grows; and it accepts new writes that survive another reopen.
No processes: the store is the part that reads and writes the files.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.refusals import Refused
from backend.store import Store

FILES = ("events.jsonl", "users.jsonl", "sessions.jsonl")
PEOPLE = ("alice", "bob", "carol")
PASSWORD = "correct horse battery"
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class History:
    """Every append made to one data directory, in order, and the sessions and users it made."""

    def __init__(self, path: Path):
        self.path = path
        self.appends: list[tuple[str, int, int]] = []  # (file, start, end); the end includes "\n"
        self.users: dict[str, int] = {}  # username -> index of its users.jsonl append
        self.sessions: dict[str, list] = {}  # token -> [username, open index, revoke index or None]

    def copy(self, path: Path) -> History:
        """The same history for a copy of the directory at ``path``."""
        shutil.copytree(self.path, path)
        other = History(path)
        other.appends, other.users = list(self.appends), dict(self.users)
        other.sessions = {token: list(entry) for token, entry in self.sessions.items()}
        return other

    def sizes(self) -> dict[str, int]:
        """The size of each data file now."""
        return {name: _size(self.path / name) for name in FILES}

    def step(self, action, *args):
        """Run one store call that makes at most one append; ``(result, append index or None)``.

        A call the store refuses (Refused) must leave every file as it was.
        """
        before = self.sizes()
        try:
            result = action(*args)
        except Refused:
            assert self.sizes() == before, "a refused call changed a data file"
            return None, None
        after = self.sizes()
        grown = [name for name in FILES if after[name] != before[name]]
        assert len(grown) <= 1, f"one call appended to {grown}"
        if not grown:
            return result, None
        self.appends.append((grown[0], before[grown[0]], after[grown[0]]))
        return result, len(self.appends) - 1

    def register(self, store: Store, name: str) -> None:
        """Register ``name`` the way ``POST /api/session`` does: user, join general, session."""
        _, index = self.step(store.accounts.sign_in, name, PASSWORD)
        self.users[name] = index
        self.step(store.join_general, name)
        self.open_session(store, name)

    def open_session(self, store: Store, name: str) -> str:
        """Open a session for ``name``; its token."""
        (token, _), index = self.step(store.accounts.open_session, name)
        self.sessions[token] = [name, index, None]
        return token

    def revoke(self, store: Store, token: str) -> None:
        """Revoke a session (a second revoke appends nothing)."""
        _, index = self.step(store.accounts.revoke, token)
        if index is not None:
            self.sessions[token][2] = index


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> History:
    """Three people registered between messages, one extra session opened and revoked.

    Built once: registering costs a deliberately slow password hash.
    """
    history = History(tmp_path_factory.mktemp("recovery") / "base")
    history.path.mkdir()
    store, _ = history.step(Store, str(history.path))  # creates general
    general = next(room["id"] for room in store.rooms_snapshot()[0] if room["name"] == "general")
    for number, name in enumerate(PEOPLE):
        history.register(store, name)
        history.step(store.post_message, name, general, f"hello from {name}", f"hello-{number}")
    history.revoke(store, history.open_session(store, "alice"))
    store.close()
    return history


def cut_at_crash_point(history: History, target: Path, index: int, partial: int) -> dict[str, int]:
    """Copy the files as a crash during append ``index`` (``partial`` bytes of it written) leaves them."""
    cuts = dict.fromkeys(FILES, 0)
    for name, _, end in history.appends[:index]:
        cuts[name] = end
    if index < len(history.appends):
        name, start, _ = history.appends[index]
        cuts[name] = start + partial
    copy_cut(history.path, target, cuts)
    return cuts


def copy_cut(source: Path, target: Path, cuts: dict[str, int]) -> None:
    """Copy each data file's first ``cuts[name]`` bytes into ``target``."""
    target.mkdir()
    for name, size in cuts.items():
        (target / name).write_bytes((source / name).read_bytes()[:size])


def check_recovered(history: History, target: Path, cuts: dict[str, int]) -> None:
    """Open a store on ``target`` (cut at ``cuts``) and check what it recovered, then write to it."""
    kept = [end <= cuts[name] for name, _, end in history.appends]
    original = (history.path / "events.jsonl").read_bytes()
    expected = [
        original[start : end - 1]
        for (name, start, end), ok in zip(history.appends, kept, strict=True)
        if name == "events.jsonl" and ok
    ]
    store = Store(str(target))  # must start, whatever the cut
    try:
        check_log(store)
        # As stored (membership changes are served with the member list, stored without it).
        lines = (target / "events.jsonl").read_bytes().splitlines()
        assert lines[: len(expected)] == expected, "the records complete before the cut changed"
        for extra in map(orjson.loads, lines[len(expected) :]):  # only start-up repairs follow
            assert extra["type"] == "room" and extra["room"]["name"] == "general", extra
            assert extra["action"] in ("created", "joined"), extra
        for line in expected:
            event = orjson.loads(line)
            if event["type"] == "message":  # acknowledged: a retry finds it, it is not stored again
                message = event["message"]
                found = store.find_message(message["sender"], message["room"], message["client_id"])
                assert found == message
        joined = {  # who joined general (later generated operations may have made them leave)
            event["user"]
            for event in map(orjson.loads, lines)
            if event["type"] == "room" and event["room"]["name"] == "general" and event["action"] == "joined"
        }
        for name, index in history.users.items():
            assert (store.accounts.find(name) is not None) == kept[index], name
            if kept[index]:
                assert name in joined, f"{name} registered but never joined general"
        for token, (name, opened, revoked) in history.sessions.items():
            valid = kept[opened] and not (revoked is not None and kept[revoked])
            assert store.accounts.session_user(token) == (name if valid else None)
    finally:
        store.close()
    check_appends_work(target)


def as_stored(event: dict) -> dict:
    """A served event as the log stores it: a membership change without the member list it is
    served with (the store adds the list as of that event)."""
    if event["type"] == "room" and event["action"] != "created":
        del event["room"]["members"]
    return event


def check_log(store: Store) -> list[bytes]:
    """Every event as served: ``pos`` strictly increasing, each room's seqs 1..N with no gap."""
    lines, _, more = store.events(0, 1_000_000)
    assert not more
    events = [orjson.loads(line) for line in lines]
    positions = [event["pos"] for event in events]
    assert positions == sorted(set(positions)), "pos is not strictly increasing"
    seqs: dict[str, list[int]] = {}
    for event in events:
        if event["type"] == "message":
            seqs.setdefault(event["message"]["room"], []).append(event["message"]["seq"])
    rooms, pos = store.rooms_snapshot()
    assert pos == (positions[-1] if positions else 0)
    for room in rooms:
        assert seqs.get(room["id"], []) == list(range(1, room["last_seq"] + 1)), room
    return lines


def check_appends_work(target: Path) -> None:
    """After recovery, new writes get the next seq and pos, and survive another reopen intact."""
    store = Store(str(target))
    try:
        pos = store.pos
        room = store.create_room("zed", "after the crash", "public", [])
        message, created = store.post_message("zed", room["id"], "still here", "after-1")
        assert created and message["seq"] == 1 and message["pos"] == pos + 2
        general = next(r for r in store.rooms_snapshot()[0] if r["name"] == "general")
        store.add_member("zed", general["id"], "zed")
        follow_up, _ = store.post_message("zed", general["id"], "and here", "after-2")
        assert follow_up["seq"] == general["last_seq"] + 1, "a seq lost to the cut must be reused"
        token, _ = store.accounts.open_session("zed")
    finally:
        store.close()
    reopened = Store(str(target))
    try:
        assert reopened.find_message("zed", room["id"], "after-1") == message
        assert reopened.find_message("zed", general["id"], "after-2") == follow_up
        assert reopened.accounts.session_user(token) == "zed"
        check_log(reopened)
    finally:
        reopened.close()
    for name in FILES:
        for line in (target / name).read_bytes().splitlines():
            orjson.loads(line)  # no torn line is left behind


# -- the histories ------------------------------------------------------------------------------

texts = st.text(min_size=1, max_size=40)  # newlines, U+2028, emoji: JSON must escape them all
operations = st.lists(
    st.one_of(
        st.tuples(st.just("post"), st.sampled_from(PEOPLE), st.integers(0, 9), texts, st.integers(0, 5)),
        st.tuples(st.just("room"), st.sampled_from(PEOPLE), st.sampled_from(["public", "private"])),
        st.tuples(st.just("join"), st.sampled_from(PEOPLE), st.integers(0, 9)),
        st.tuples(st.just("add"), st.sampled_from(PEOPLE), st.integers(0, 9), st.sampled_from(PEOPLE)),
        st.tuples(st.just("leave"), st.sampled_from(PEOPLE), st.integers(0, 9)),
        st.tuples(st.just("dm"), st.sampled_from(PEOPLE), st.sampled_from(PEOPLE)),
        st.tuples(st.just("session"), st.sampled_from(PEOPLE), st.integers(0, 9)),
    ),
    max_size=25,
)


def replay_operations(history: History, operations: list[tuple]) -> None:
    """Run generated store calls on ``history``'s directory (refused ones are part of the test)."""
    store = Store(str(history.path))
    for kind, name, *args in operations:
        rooms = [room["id"] for room in store.rooms_snapshot()[0]]
        if kind == "post":
            number, text, client = args
            history.step(store.post_message, name, rooms[number % len(rooms)], text, f"c{client}")
        elif kind == "room":
            history.step(store.create_room, name, f"room by {name}", args[0], [])
        elif kind in ("join", "add"):
            other = args[1] if kind == "add" else name
            history.step(store.add_member, name, rooms[args[0] % len(rooms)], other)
        elif kind == "leave":
            history.step(store.leave, name, rooms[args[0] % len(rooms)])
        elif kind == "dm" and name != args[0]:
            history.step(store.open_dm, name, args[0])
        elif kind == "session":
            tokens = list(history.sessions)
            if args[0] % 2:
                history.revoke(store, tokens[args[0] % len(tokens)])
            else:
                history.open_session(store, name)
    store.close()


@SETTINGS
@given(operations=operations, data=st.data())
def test_crash_at_any_byte_of_any_write_recovers_what_was_acknowledged(base, operations, data):
    with tempfile.TemporaryDirectory() as scratch:
        history = base.copy(Path(scratch) / "before")
        replay_operations(history, operations)
        index = data.draw(st.integers(0, len(history.appends)), label="crash during append")
        partial = 0
        if index < len(history.appends):
            _, start, end = history.appends[index]
            partial = data.draw(st.integers(0, end - start - 1), label="bytes of it written")
        target = Path(scratch) / "after"
        check_recovered(history, target, cut_at_crash_point(history, target, index, partial))


@SETTINGS
@given(data=st.data())
def test_each_file_cut_at_any_byte_keeps_its_complete_records(base, data):
    cuts = {name: data.draw(st.integers(0, _size(base.path / name)), label=name) for name in FILES}
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "after"
        copy_cut(base.path, target, cuts)
        check_recovered(base, target, cuts)


@SETTINGS
@given(data=st.data(), garbage=st.binary(min_size=1, max_size=200).filter(lambda b: b"\n" not in b))
def test_a_garbage_line_anywhere_is_skipped_and_nothing_else_is_lost(base, data, garbage):
    name = data.draw(st.sampled_from(FILES), label="file")
    content = (base.path / name).read_bytes()
    boundaries = [0] + [i + 1 for i, byte in enumerate(content) if byte == ord("\n")]
    at = data.draw(st.sampled_from(boundaries), label="inserted before byte")
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "after"
        shutil.copytree(base.path, target)
        (target / name).write_bytes(content[:at] + garbage + b"\n" + content[at:])
        store = Store(str(target))
        try:
            events = [as_stored(orjson.loads(line)) for line in store.events(0, 1_000_000)[0]]
            original = (base.path / "events.jsonl").read_bytes().splitlines()
            assert events == [orjson.loads(line) for line in original]
            for user in PEOPLE:
                assert store.accounts.find(user) == user
            for token, (user, _, revoked) in base.sessions.items():
                assert store.accounts.session_user(token) == (None if revoked is not None else user)
            pos = store.pos
            room = store.create_room("zed", "after the garbage", "public", [])
            assert store.post_message("zed", room["id"], "still here", "g-1")[0]["pos"] == pos + 2
        finally:
            store.close()

"""Storage failures: a write that fails (disk full, read-only file) answers 503 and leaves no trace.

The backend runs in-process (its Flask test client, on a real data directory); the failure is the
real ``OSError`` a full or read-only disk raises, injected into ``os.pwrite`` and ``os.fsync`` as
``backend.jsonl`` calls them, for the data files chosen. Running as root, making files read-only
would not stop the writes, so the error is injected rather than provoked.

For every kind of write the API makes: the answer is ``503 storage_unavailable``; every data file
is byte for byte what it was (nothing half-written, earlier records intact); reads keep working;
once the failure is gone the same request succeeds and its effect is there exactly once, also
after a restart. A live variant has the kernel itself refuse the running backend's writes.
"""

from __future__ import annotations

import errno
import os
import resource
from pathlib import Path

import psutil
import pytest

import backend.jsonl
from backend import create_app
from tests.backend_fixtures import callers, sign_in
from tests.store_helpers import assert_whole_lines

FILES = ("events.jsonl", "users.jsonl", "sessions.jsonl")


class Disk:
    """Fails the backend's writes to chosen data files with a chosen error, until :meth:`heal`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self._pwrite, self._fsync = os.pwrite, os.fsync
        self.failure: tuple[str, int, tuple[str, ...]] | None = None
        self.failed = 0  # how many calls were made to fail
        monkeypatch.setattr(backend.jsonl.os, "pwrite", self.pwrite)
        monkeypatch.setattr(backend.jsonl.os, "fsync", self.fsync)

    def fail(self, call: str, code: int, files: tuple[str, ...] = FILES) -> None:
        """From now on ``call`` ("pwrite", "short" or "fsync") fails with ``code`` on ``files``."""
        self.failure = (call, code, files)

    def heal(self) -> None:
        """The cause is gone: writes work again."""
        self.failure = None

    def _hits(self, call: str, fd: int) -> bool:
        if self.failure is None or self.failure[0] != call:
            return False
        return os.path.basename(os.readlink(f"/proc/self/fd/{fd}")) in self.failure[2]

    def pwrite(self, fd: int, data: bytes, offset: int) -> int:
        if self._hits("short", fd):  # the disk filled up part way through the line
            self.failed += 1
            return self._pwrite(fd, data[: len(data) // 2], offset)
        if self._hits("pwrite", fd):
            self.failed += 1
            raise OSError(self.failure[1], os.strerror(self.failure[1]))
        return self._pwrite(fd, data, offset)

    def fsync(self, fd: int) -> None:
        if self._hits("fsync", fd):  # the line reached the page cache but not the disk
            self.failed += 1
            raise OSError(self.failure[1], os.strerror(self.failure[1]))
        self._fsync(fd)


@pytest.fixture
def disk(monkeypatch) -> Disk:
    """The fault injector, healthy until told to fail."""
    return Disk(monkeypatch)


def files_of(app) -> dict[str, bytes]:
    """The content of every data file of ``app``."""
    data_dir = Path(app.config["DATA_DIR"])
    return {name: (data_dir / name).read_bytes() for name in FILES}


def reopened(app):
    """A new backend app on ``app``'s data directory, as after a restart; ``app`` is closed."""
    app.extensions["chat.store"].close()
    restarted = create_app({"DATA_DIR": app.config["DATA_DIR"]})
    restarted.extensions["test.tokens"] = app.extensions["test.tokens"]
    app.extensions["chat.store"] = restarted.extensions["chat.store"]  # closed at teardown
    return restarted


# -- the writes, each as (prepare, request, check) ------------------------------------------------
# prepare(people) returns a context; request(people, ctx) makes the one write under test and returns
# the answer; check(people, ctx, answer) asserts its effect happened exactly once.


def _public_room(people) -> str:
    answer = people.alice.post("/api/rooms", {"name": "lobby", "visibility": "public", "members": []})
    assert answer.status_code == 201
    return answer.get_json()["room"]["id"]


def _room(people, room_id: str, caller: str = "alice") -> dict:
    return getattr(people, caller).get(f"/api/rooms/{room_id}").get_json()["room"]


def _post(people, room):
    return people.alice.post(f"/api/rooms/{room}/messages", {"text": "after the storm", "client_id": "k-1"})


def _check_post(people, room, answer):
    history = people.alice.get(f"/api/rooms/{room}/messages").get_json()
    assert [m["seq"] for m in history["messages"]] == [1, 2], "seq must not skip the failed attempt"
    assert [m["client_id"] for m in history["messages"]].count("k-1") == 1
    assert history["messages"][-1] == answer.get_json()["message"]


def _first_message(people):
    room = _public_room(people)
    assert (
        people.alice.post(f"/api/rooms/{room}/messages", {"text": "t", "client_id": "k-0"}).status_code == 201
    )
    return room


def _check_rooms_named(name: str):
    def check(people, ctx, answer):
        names = [room["name"] for room in people.alice.get("/api/rooms").get_json()["rooms"]]
        assert names.count(name) == 1, names

    return check


def _check_member(member: bool, who: str = "bob"):
    def check(people, room, answer):
        assert (who in _room(people, room)["members"]) == member

    return check


def _check_session(people, ctx, answer):
    token = answer.get_json()["session"]["token"]
    assert (
        people.alice.client.get("/api/session", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )


def _check_signed_out(people, ctx, answer):
    assert people.bob.get("/api/session").status_code == 401


def _check_registered(people, ctx, answer):
    token = answer.get_json()["session"]["token"]
    headers = {"Authorization": f"Bearer {token}"}
    rooms = people.alice.client.get("/api/rooms", headers=headers).get_json()["rooms"]
    assert [room["member"] for room in rooms if room["name"] == "general"] == [True]


WRITES = {
    "post a message": (_first_message, _post, _check_post),
    "create a room": (
        lambda p: None,
        lambda p, ctx: p.alice.post(
            "/api/rooms", {"name": "new", "visibility": "private", "members": ["bob"]}
        ),
        _check_rooms_named("new"),
    ),
    "join a room": (
        _public_room,
        lambda p, room: p.bob.post(f"/api/rooms/{room}/members", {"username": "bob"}),
        _check_member(True),
    ),
    "leave a room": (
        lambda p: p.alice.post("/api/rooms", {"name": "x", "members": ["bob"]}).get_json()["room"]["id"],
        lambda p, room: p.bob.delete(f"/api/rooms/{room}/members/bob"),
        _check_member(False),
    ),
    "open a DM": (
        lambda p: None,
        lambda p, ctx: p.alice.post("/api/dms", {"username": "bob"}),
        _check_rooms_named("alice, bob"),
    ),
    "sign in": (lambda p: None, lambda p, ctx: sign_in(p.alice.client, "alice")[0], _check_session),
    "register": (lambda p: None, lambda p, ctx: sign_in(p.alice.client, "erin")[0], _check_registered),
    "sign out": (lambda p: None, lambda p, ctx: p.bob.delete("/api/session"), _check_signed_out),
}

FAULTS = {
    "disk full": ("pwrite", errno.ENOSPC),
    "read-only file": ("pwrite", errno.EROFS),
    "disk full part way through the line": ("short", errno.ENOSPC),
    "fsync fails, disk full": ("fsync", errno.ENOSPC),
    "fsync fails, I/O error": ("fsync", errno.EIO),
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("write", WRITES)
def test_a_failed_write_answers_503_changes_nothing_and_works_once_healed(
    make_backend_app, disk, write, fault
):
    app = make_backend_app()
    people = callers(app)
    prepare, request, check = WRITES[write]
    ctx = prepare(people)
    history = people.alice.get("/api/rooms").get_json()
    before = files_of(app)

    disk.fail(*FAULTS[fault])
    answer = request(people, ctx)
    assert answer.status_code == 503, answer.get_data(as_text=True)
    assert answer.get_json()["error"]["code"] == "storage_unavailable"
    assert disk.failed >= 1
    assert files_of(app) == before, "a failed write left bytes behind or changed earlier ones"
    assert people.alice.get("/api/rooms").get_json() == history, "a failed write changed what is served"

    disk.heal()
    answer = request(people, ctx)  # the caller retries the same request
    assert 200 <= answer.status_code < 300, answer.get_data(as_text=True)
    check(people, ctx, answer)
    assert_whole_lines(Path(app.config["DATA_DIR"]))

    check(callers(reopened(app)), ctx, answer)


def test_reads_keep_working_while_writes_fail(make_backend_app, disk):
    app = make_backend_app()
    people = callers(app)
    room = _first_message(people)
    disk.fail("pwrite", errno.EROFS)
    assert _post(people, room).status_code == 503
    page = people.alice.get(f"/api/rooms/{room}/messages")
    assert page.status_code == 200 and page.get_json()["last_seq"] == 1
    assert people.alice.get("/api/events?after=0").status_code == 200
    assert people.bob.get("/api/rooms").status_code == 200


def test_registration_cut_short_by_a_failed_join_still_ends_in_general(make_backend_app, disk):
    # The user's record is stored, then joining general fails: the sign-up answers 503. When the
    # person tries again (same name and password) they must end up a member of general, as every
    # new user is, without waiting for a restart.
    app = make_backend_app()
    disk.fail("pwrite", errno.ENOSPC, files=("events.jsonl",))
    first, _ = sign_in(app.test_client(), "frank")
    assert first.status_code == 503 and first.get_json()["error"]["code"] == "storage_unavailable"
    disk.heal()
    again, frank = sign_in(app.test_client(), "frank")
    assert again.status_code in (200, 201), again.get_data(as_text=True)
    rooms = frank.get("/api/rooms").get_json()["rooms"]
    assert [room["member"] for room in rooms if room["name"] == "general"] == [True]


# -- live: the kernel refuses the write ----------------------------------------------------------


def limit_file_size(proc, size: int) -> None:
    """Cap the size of files the backend (master and worker) may write, as a full disk would.

    Past ``RLIMIT_FSIZE`` a write fails with EFBIG, for root too; Python ignores the SIGXFSZ that
    comes with it, so the process lives on and sees the OSError.
    """
    master = psutil.Process(proc.popen.pid)
    for process in [master, *master.children(recursive=True)]:
        resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (size, resource.RLIM_INFINITY))


@pytest.mark.live
@pytest.mark.parametrize("room_left", [0, 40], ids=["nothing fits", "part of the line fits"])
def test_live_backend_refused_a_write_by_the_kernel_answers_503_and_heals(
    live, http_user, data_dir, room_left
):
    alice = http_user("alice")
    url = f"{live.url}/api/rooms"
    room = alice.post(url, json={"name": "disk", "visibility": "public", "members": []}, timeout=10)
    messages = f"{url}/{room.json()['room']['id']}/messages"
    assert alice.post(messages, json={"text": "before", "client_id": "k-0"}, timeout=10).status_code == 201
    before = {name: (data_dir / name).read_bytes() for name in FILES}

    limit_file_size(live.backend, len(before["events.jsonl"]) + room_left)
    answer = alice.post(messages, json={"text": "during", "client_id": "k-1"}, timeout=10)
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "storage_unavailable"
    assert {name: (data_dir / name).read_bytes() for name in FILES} == before
    assert alice.get(messages, timeout=10).json()["last_seq"] == 1  # reads go on

    limit_file_size(live.backend, resource.RLIM_INFINITY)
    answer = alice.post(messages, json={"text": "during", "client_id": "k-1"}, timeout=10)
    assert answer.status_code == 201 and answer.json()["message"]["seq"] == 2
    assert [m["text"] for m in alice.get(messages, timeout=10).json()["messages"]] == ["before", "during"]
    assert_whole_lines(data_dir)

"""``backend.py --compact``: deleted and replaced texts leave the disk, nothing else changes.

After compaction a ``grep`` of the data directory finds no deleted text, no replaced edit text and
no reaction of a deleted message; every line keeps its ``pos`` and every message its ``seq``; the
backend serves exactly what it served before. A kill at any step of the compaction leaves a data
directory that starts and serves the same state, and a later compaction finishes the job. It
refuses while a backend holds the directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from backend.compaction import TEMP_SUFFIX, _redact, compact
from backend.datadir import DataDirError
from backend.store import Store

REPO = Path(__file__).resolve().parent.parent
SECRETS = [b"password is hunter2", b"hunter2, edited", b"tpyo", b"typo, nearly", b":secret_emoji:"]
KEPT = [b"typo, fixed", b"plain message", b":kept:", b"reply to the password"]


def fill(data_dir: Path) -> str:
    """A room with deleted, edited, reacted and untouched messages; its id."""
    store = Store(str(data_dir))
    try:
        room = store.create_room("alice", "compact", "public", ["bob"])["id"]
        store.post_message("alice", room, "password is hunter2", "c1")
        store.post_message("alice", room, "tpyo", "c2")
        store.post_message("bob", room, "plain message", "c3")
        store.post_message("bob", room, "reply to the password", "c4", reply_to=1)
        store.edit_message("alice", room, 1, "hunter2, edited")
        store.react("bob", room, 1, ":secret_emoji:", True)
        store.edit_message("alice", room, 2, "typo, nearly")
        store.edit_message("alice", room, 2, "typo, fixed")
        store.react("alice", room, 2, ":kept:", True)
        store.delete_message("alice", room, 1)
        return room
    finally:
        store.close()


def served(data_dir: Path, room: str) -> tuple[list[dict], bytes, list[tuple[int, str]]]:
    """What a backend on ``data_dir`` serves: the room's history, the whole feed, and (pos, type)."""
    store = Store(str(data_dir))
    try:
        history = store.messages("alice", room, None, None, 50)[0]
        lines = store.events(0, 10_000)[0]
        return (
            history,
            b"\n".join(lines),
            [(orjson.loads(line)["pos"], orjson.loads(line)["type"]) for line in lines],
        )
    finally:
        store.close()


def on_disk(data_dir: Path) -> bytes:
    return b"".join(path.read_bytes() for path in data_dir.iterdir() if path.is_file())


def stored(data_dir: Path) -> list[tuple[int, str, int | None]]:
    """(pos, type, seq) of every line of the log."""
    out = []
    for line in (data_dir / "events.jsonl").read_bytes().splitlines():
        record = orjson.loads(line)
        seq = record["message"]["seq"] if record["type"] == "message" else record.get("seq")
        out.append((record["pos"], record["type"], seq))
    return out


def test_compaction_removes_deleted_and_replaced_texts_and_keeps_everything_else(tmp_path):
    data = tmp_path / "data"
    room = fill(data)
    before, lines_before = served(data, room), stored(data)
    assert all(secret in on_disk(data) for secret in SECRETS)
    summary = compact(str(data))
    assert (summary.deleted, summary.edits, summary.lines) == (1, 2, 5)
    disk = on_disk(data)
    for secret in SECRETS:
        assert secret not in disk, secret
    for kept in KEPT:
        assert kept in disk, kept
    assert stored(data) == lines_before
    assert served(data, room) == before
    again = (data / "events.jsonl").read_bytes()
    assert compact(str(data)).lines == 0  # nothing left to do
    assert (data / "events.jsonl").read_bytes() == again


def test_a_deleted_message_loses_its_file_an_edited_one_keeps_it():
    file = {"id": "f1", "name": "plan.pdf"}
    record = {"type": "message", "pos": 3, "message": {"seq": 1, "text": "see plan", "file": file}}
    assert _redact(record, deleted=True)["message"] == {"seq": 1, "text": ""}
    assert _redact(record, deleted=False)["message"] == {"seq": 1, "text": "", "file": file}
    assert _redact(_redact(record, deleted=True), deleted=True) is None


def test_the_command_refuses_while_a_backend_holds_the_directory(tmp_path):
    data = tmp_path / "data"
    room = fill(data)
    holder = Store(str(data))
    try:
        answer = subprocess.run(
            [sys.executable, "backend.py", "--compact", "--data-dir", str(data)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        holder.close()
    assert answer.returncode != 0
    assert answer.stderr.count("\n") == 1 and "in use by another backend" in answer.stderr
    assert SECRETS[0] in on_disk(data)
    answer = subprocess.run(
        [sys.executable, "backend.py", "--compact", "--data-dir", str(data)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert answer.returncode == 0 and "5 lines emptied" in answer.stdout, answer.stderr
    assert served(data, room)[0][0]["deleted"] is True


CRASH = """
import os, signal, sys
import backend.compaction as compaction
def crash(step, target=sys.argv[2]):
    if step == target:
        os.kill(os.getpid(), signal.SIGKILL)
compaction._reached = crash
compaction.compact(sys.argv[1])
"""


@pytest.mark.parametrize("step", ["writing", "written", "renamed", "synced"])
def test_a_kill_at_any_step_leaves_the_directory_whole(tmp_path, step):
    data = tmp_path / "data"
    room = fill(data)
    before, lines_before = served(data, room), stored(data)
    copy = tmp_path / "copy"
    shutil.copytree(data, copy)
    run = subprocess.run(
        [sys.executable, "-c", CRASH, str(copy), step], cwd=REPO, capture_output=True, timeout=30
    )
    assert run.returncode == -signal.SIGKILL, run.stderr
    # Whole: it starts, every line is where it was, and it serves what it served.
    assert stored(copy) == lines_before
    assert served(copy, room) == before
    if step in ("writing", "written"):
        assert (copy / ("events.jsonl" + TEMP_SUFFIX)).exists()  # left over, and ignored
        assert SECRETS[0] in (copy / "events.jsonl").read_bytes()
    compact(str(copy))  # the next compaction finishes the job
    assert not (copy / ("events.jsonl" + TEMP_SUFFIX)).exists()
    assert not any(secret in on_disk(copy) for secret in SECRETS)
    assert served(copy, room) == before and stored(copy) == lines_before
    assert set(os.listdir(copy)) == set(os.listdir(data))


def test_no_data_directory_is_refused_and_not_made(tmp_path):
    with pytest.raises(DataDirError, match="no chat data"):
        compact(str(tmp_path / "typo"))
    assert not (tmp_path / "typo").exists()

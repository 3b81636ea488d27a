"""One JSON-lines file: durable appends, recovery on reopen, and a failed write that leaves no trace."""

from __future__ import annotations

import errno
import logging
import os
import re
from pathlib import Path

import pytest

import backend.jsonl
from backend.jsonl import JsonlFile, StorageError

RECORDS = [{"n": 1, "text": "héllo 👋"}, {"n": 2, "nested": {"a": [1, 2]}}, {"n": 3, "text": "x" * 5000}]


def reopened(path: Path) -> list[dict]:
    """Every record a fresh open of ``path`` recovers."""
    file = JsonlFile(str(path))
    try:
        return [record for _, _, record in file.recover()]
    finally:
        file.close()


def test_appended_records_are_read_back_after_reopen(tmp_path: Path):
    path = tmp_path / "log.jsonl"
    file = JsonlFile(str(path))
    places = [file.append(record) for record in RECORDS]
    assert [file.read(offset, length) for offset, length in places] == [
        line for line in path.read_bytes().splitlines()
    ]
    file.close()
    assert path.read_bytes().count(b"\n") == 3  # one line each, readable with cat and grep
    assert reopened(path) == RECORDS
    again = JsonlFile(str(path))
    assert [(offset, length) for offset, length, _ in again.recover()] == places
    assert again.append({"n": 4}) == (path.stat().st_size - len(b'{"n":4}\n'), len(b'{"n":4}\n'))
    again.close()
    assert reopened(path) == [*RECORDS, {"n": 4}]


def test_append_fsyncs_before_returning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.fstat(fd).st_size)
        real_fsync(fd)

    monkeypatch.setattr(backend.jsonl.os, "fsync", fsync)
    file = JsonlFile(str(tmp_path / "log.jsonl"))
    offset, length = file.append({"n": 1})
    assert synced == [offset + length]  # the whole line was on its way to disk when it returned
    file.close()


def fail_once(monkeypatch: pytest.MonkeyPatch, how: str) -> list[str]:
    """Make the next write fail the way ``how`` says; later ones work. Returns a log of calls."""
    calls: list[str] = []
    real_pwrite, real_fsync = os.pwrite, os.fsync

    def pwrite(fd: int, data: bytes, offset: int) -> int:
        if calls:
            return real_pwrite(fd, data, offset)
        calls.append(how)
        if how == "short write":  # the disk filled up in the middle of the line
            return real_pwrite(fd, data[: len(data) // 2], offset)
        if how == "pwrite error":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_pwrite(fd, data, offset)

    def fsync(fd: int) -> None:
        if how == "fsync error" and calls == ["fsync error"]:
            calls.append("failed fsync")
            raise OSError(errno.EIO, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(backend.jsonl.os, "pwrite", pwrite)
    monkeypatch.setattr(backend.jsonl.os, "fsync", fsync)
    return calls


@pytest.mark.parametrize("how", ["short write", "pwrite error", "fsync error"])
def test_failed_write_leaves_no_partial_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str):
    path = tmp_path / "log.jsonl"
    file = JsonlFile(str(path))
    for record in RECORDS[:2]:
        file.append(record)
    before = path.read_bytes()
    calls = fail_once(monkeypatch, how)

    with pytest.raises(StorageError) as failure:
        file.append({"n": "lost", "text": "y" * 300})
    assert calls  # the failure was injected into this very append
    assert str(path) in str(failure.value)
    assert path.read_bytes() == before  # no half line, earlier lines intact
    assert file.size == len(before)

    offset, length = file.append(RECORDS[2])
    assert offset == len(before)
    assert file.read(offset, length) == path.read_bytes().splitlines()[-1]
    file.close()
    assert reopened(path) == RECORDS


def test_torn_last_line_is_cut_on_recovery(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"n": 1}\n{"n": 2}\n{"n": 3, "te')
    with caplog.at_level(logging.WARNING):
        assert reopened(path) == [{"n": 1}, {"n": 2}]
    assert path.read_bytes() == b'{"n": 1}\n{"n": 2}\n'
    assert str(path) in caplog.text
    file = JsonlFile(str(path))
    list(file.recover())
    file.append({"n": 3})
    file.close()
    assert reopened(path) == [{"n": 1}, {"n": 2}, {"n": 3}]


def test_a_file_holding_only_a_torn_line_becomes_empty(tmp_path: Path):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"n": 1, "no newline yet')
    assert reopened(path) == []
    assert path.read_bytes() == b""


def test_unreadable_lines_in_the_middle_are_skipped_and_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"n": 1}\nnot json\n\n[1, 2]\n{"n": 2}\n"a string"\n{"n": 3}\n')
    with caplog.at_level(logging.WARNING):
        assert reopened(path) == [{"n": 1}, {"n": 2}, {"n": 3}]
    messages = [record.getMessage() for record in caplog.records]
    for line_number in (2, 4, 6):  # the blank line 3 is not worth a warning
        named = [
            m
            for m in messages
            if str(path) in m and re.search(rf"\b{line_number}\b", m.replace(str(path), ""))
        ]
        assert named, (line_number, messages)
    assert len(messages) == 3
    assert path.read_bytes().startswith(b'{"n": 1}\nnot json\n')  # skipped, not rewritten


def test_recovered_places_read_back_the_same_lines(tmp_path: Path):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"n": 1}\ngarbage\n{"n": 2, "t": "\xc3\xa9"}\n')
    file = JsonlFile(str(path))
    places = [(offset, length) for offset, length, _ in file.recover()]
    assert [file.read(offset, length) for offset, length in places] == [
        b'{"n": 1}',
        b'{"n": 2, "t": "\xc3\xa9"}',
    ]
    file.close()

"""Scenario 5: the latest 50 messages of a room holding 1,000,000, read through the front server.

A share of the messages (``changes`` in the sizes: 10%) is changed after it was sent, half edited,
half deleted, as change lines placed right after the message: start-up replays those too.

The data directory is made by the real backend first (one user, one room, one message posted
through the API), so accounts and the room are exactly what the backend writes. The million
messages are then appended to ``events.jsonl`` in the backend's own record shape, copied from
that first stored message with ``pos``, ``seq``, ``id`` and ``client_id`` advanced: writing the
file directly takes seconds where a million API calls with fsync would take hours. Then a fresh
backend starts on it (its start-up time and memory are figures), and the front server reads.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from backend import checkpoint
from bench.http import HttpClient
from bench.procs import Server
from bench.scenarios import Context
from bench.stack import PASSWORD, Stack
from bench.stats import percentiles

USER = "historian"


async def scenario_5(ctx: Context) -> dict:
    """Build the big room, restart on it, time the start-up and the history reads."""
    size = ctx.sizes["s5"]
    data_dir = Path(tempfile.mkdtemp(prefix="chat-bench-history-"))
    try:
        room, write_s, file_mib = await _build(data_dir, size["messages"], size.get("changes", 0))
        # The first start replays the whole log (there is no checkpoint yet) and has one written
        # apart; the restart, as after an upgrade, loads it and replays only what came after.
        first, startup = _start(data_dir)
        startup["checkpoint_written_s"] = await _wait_for_checkpoint(data_dir)
        first.stop()
        stack = Stack(data_dir)
        stack.backend, restart = _start(data_dir)
        stack.front = Server("front", ["MainWServer.py", "--port", "0", "--backend", stack.backend.url])
        try:
            reads = await _reads(stack, room, size["reads"])
            reads["backend_rss_after_reads_mib"] = round(stack.backend.rss() / 2**20, 1)
        finally:
            stack.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "messages": size["messages"],
        "changed_share": size.get("changes", 0),
        "events_file_mib": file_mib,
        "write_s": write_s,
        "startup": startup,
        "restart": restart,
        **reads,
    }


def _start(data_dir: Path) -> tuple[Server, dict]:
    """A backend started on ``data_dir``, and its start-up figures (start to ``/healthz`` 200)."""
    started = time.perf_counter()
    server = Server("backend", ["backend.py", "--port", "0", "--data-dir", str(data_dir)], timeout=300)
    return server, {
        "address_s": round(server.address_s, 2),
        "healthy_s": round(time.perf_counter() - started, 2),
        # The wall time depends on what else the machine runs; the CPU it took hardly does.
        "cpu_s": round(server.cpu_seconds(), 2),
        "backend_rss_mib": round(server.rss() / 2**20, 1),
        "backend_processes": server.rss_by_process(),
    }


async def _wait_for_checkpoint(data_dir: Path, patience: float = 60) -> float | None:
    """Seconds until the data directory's checkpoint appeared (None: not within ``patience``)."""
    started = time.perf_counter()
    while not (data_dir / checkpoint.FILE).exists():
        if time.perf_counter() - started > patience:
            return None
        await asyncio.sleep(0.1)
    return round(time.perf_counter() - started, 1)


async def _build(
    data_dir: Path, count: int, changes: float = 0, text: Callable[[int], str] | None = None
) -> tuple[str, float, float]:
    stack = Stack(data_dir, backend_flags=[]).start()
    try:
        await stack.sign_up(1, prefix=USER)
        name = f"{USER}00000"
        room = await stack.create_room("history", [name])
        client = HttpClient(stack.url, stack.cookies[name])
        await client.json("POST", f"/api/rooms/{room}/messages", {"text": "first", "client_id": "h0"})
        await client.close()
    finally:
        stack.backend.stop()
        stack.front.stop()
    started = time.perf_counter()
    path = data_dir / "events.jsonl"
    await asyncio.to_thread(_append, path, room, count - 1, changes, text)
    return room, round(time.perf_counter() - started, 2), round(path.stat().st_size / 2**20, 1)


def _append(
    path: Path, room: str, count: int, changes: float = 0, text: Callable[[int], str] | None = None
) -> None:
    """Append ``count`` messages to ``room``, shaped exactly like the last stored message.

    With ``changes`` (a share), that share of them is followed by an edit or, as often, a deletion
    by its sender, in the backend's own change-line shape. ``text(i)`` makes the text of the i-th;
    by default an ordinary line ending in its number.
    """
    lines = path.read_bytes().rstrip(b"\n").split(b"\n")
    template = orjson.loads(lines[-1])
    if template.get("type") != "message" or template["message"]["room"] != room:
        raise RuntimeError(f"unexpected last event in {path}: {lines[-1][:200]!r}")
    pos, seq = template["pos"], template["message"]["seq"]
    message = dict(template["message"])
    record = dict(template, message=message)
    filler = "a fairly ordinary chat line of about the usual length, number "
    every = round(1 / changes) if changes else 0  # one message in ``every`` is changed
    change = {"room": room, "user": message["sender"], "ts": message["ts"]}
    with open(path, "ab") as out:
        batch = []
        for i in range(1, count + 1):
            pos += 1
            record["pos"] = message["pos"] = pos
            message["seq"] = seq + i
            message["id"] = f"m{pos:016x}"
            message["client_id"] = f"h{i}"
            message["text"] = text(i) if text else f"{filler}{i}"
            batch.append(orjson.dumps(record))
            if every and i % every == 0:
                pos += 1
                kind = "edit" if i % (2 * every) else "delete"
                line = {"type": kind, "pos": pos, **change, "seq": seq + i}
                if kind == "edit":
                    line["text"] = f"{filler}{i}, edited"
                batch.append(orjson.dumps(line))
            if len(batch) >= 50_000:
                out.write(b"\n".join(batch) + b"\n")
                batch = []
        if batch:
            out.write(b"\n".join(batch) + b"\n")


async def _reads(stack: Stack, room: str, reads: int) -> dict:
    client = HttpClient(stack.url)
    await client.json("POST", "/api/session", {"username": f"{USER}00000", "password": PASSWORD})
    latest, middle = [], []
    last_seq = None
    for i in range(reads):
        started = time.perf_counter_ns()
        body = await client.json("GET", f"/api/rooms/{room}/messages?limit=50")
        latest.append(time.perf_counter_ns() - started)
        last_seq = body["last_seq"]
        if len(body["messages"]) != 50 or body["messages"][-1]["seq"] != last_seq:
            raise RuntimeError(f"history page {i} is not the latest 50: last_seq {last_seq}")
        # A page from the middle of the room, for comparison with the latest one.
        started = time.perf_counter_ns()
        await client.json("GET", f"/api/rooms/{room}/messages?before={last_seq // 2}&limit=50")
        middle.append(time.perf_counter_ns() - started)
    await client.close()
    return {"last_seq": last_seq, "latest_50": percentiles(latest), "middle_50": percentiles(middle)}

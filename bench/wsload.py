"""WebSocket clients for the load generator: open many, read every frame, send on a schedule.

All clients live in this one asyncio process, so ``time.perf_counter_ns`` is one clock for all of
them: a sender writes its clock into the message text, and every receiver subtracts it from the
moment the frame reached its reader. Each frame is counted by (receiver, room, seq) in a
:class:`bench.stats.Deliveries`, so losses and duplicates show.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from bench.stats import Acks, Deliveries

# What browsers offer; ``python -m bench --no-compression`` sets None to measure without it.
COMPRESSION: str | None = "deflate"


def stamp(text: str) -> int:
    """The sender's clock written at the start of a benchmark message text, or 0 for any other."""
    head = text.split(" ", 1)[0]
    return int(head) if head.isdigit() else 0


class Run:
    """What one measured run of one room saw: deliveries, acks, errors and dropped connections."""

    def __init__(self, room: str):
        self.room = room
        self.deliveries = Deliveries()
        self.acks = Acks()
        self.errors: Counter = Counter()
        self.dropped = 0

    def on_message(self, receiver: int, frame: dict, now_ns: int) -> None:
        """Count one ``message`` frame if it belongs to this run's room."""
        message = frame["message"]
        if message["room"] == self.room:
            self.deliveries.record(
                receiver, message["room"], message["seq"], frame["pos"], stamp(message["text"]), now_ns
            )

    def on_update(self, receiver: int, frame: dict, now_ns: int) -> None:
        """An ``update`` frame (an edited, deleted or reacted-to message); counted by scenario 8."""

    def on_ack(self, frame: dict, now_ns: int) -> None:
        """Count one ``ack`` frame: its latency and the stored message it names."""
        message = frame["message"]
        self.acks.ack(frame["client_id"], now_ns)
        self.deliveries.expect(message["room"], message["seq"])

    def on_error(self, frame: dict) -> None:
        """Count an ``error`` frame by its code."""
        self.errors[frame.get("error", {}).get("code", "?")] += 1


class OpenError(Exception):
    """Some connections could not be opened; the others stay open in the pool."""

    def __init__(self, failed: int, asked: int, kinds: Counter):
        super().__init__(f"{failed} of {asked} WebSockets failed to open: {dict(kinds.most_common(3))}")
        self.failed = failed


class Pool:
    """Open WebSockets, each with a reader task feeding the current :class:`Run`."""

    def __init__(self, ws_url: str, run: Run | None = None):
        self.ws_url = ws_url
        self.run = run
        self.conns: list = []
        self.readers: list[asyncio.Task] = []
        self.hello_pos: list[int] = []
        self.other_frames: Counter = Counter()
        self.extensions = "none"  # what the server negotiated, as it answered the handshake

    async def open(self, cookies: list[str], count: int, concurrency: int = 64) -> None:
        """Open ``count`` connections, spreading them over the given cookies round-robin.

        Returns once every connection got its ``hello`` frame; the readers then run on their own.
        """
        gate = asyncio.Semaphore(concurrency)
        base = len(self.conns)
        self.conns.extend([None] * count)
        self.hello_pos.extend([0] * count)

        async def one(i: int) -> None:
            cookie = cookies[i % len(cookies)]
            headers = {"Cookie": cookie} if cookie else {}
            async with gate:
                ws = await connect(
                    self.ws_url, additional_headers=headers, proxy=None, ping_interval=None,
                    open_timeout=120, close_timeout=5, max_size=2**20, compression=COMPRESSION,
                )  # fmt: skip
                hello = orjson.loads(await asyncio.wait_for(ws.recv(), 60))
            if hello.get("type") != "hello":
                raise RuntimeError(f"first frame was not hello: {hello}")
            self.conns[base + i] = ws
            self.extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "none")
            self.hello_pos[base + i] = hello.get("pos", 0)
            self.readers.append(asyncio.create_task(self._read(base + i, ws)))

        outcomes = await asyncio.gather(*(one(i) for i in range(count)), return_exceptions=True)
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        if failed:
            kinds = Counter(f"{type(o).__name__}: {o}"[:200] for o in failed)
            raise OpenError(len(failed), count, kinds)

    async def _read(self, idx: int, ws) -> None:
        clock = time.perf_counter_ns
        try:
            async for raw in ws:
                now = clock()
                frame = orjson.loads(raw)
                kind = frame.get("type")
                run = self.run
                if run is None:
                    self.other_frames[kind] += 1
                elif kind == "message":
                    run.on_message(idx, frame, now)
                elif kind == "ack":
                    run.on_ack(frame, now)
                elif kind == "update":
                    run.on_update(idx, frame, now)
                elif kind == "error":
                    run.on_error(frame)
                else:
                    self.other_frames[kind] += 1
        except ConnectionClosed:
            pass
        if self.run is not None and not getattr(ws, "_bench_closing", False):
            self.run.dropped += 1

    async def send(self, idx: int, room: str, client_id: str, acks: Acks, pad: str = "") -> None:
        """Send one ``send`` frame on connection ``idx`` with this moment's clock in its text."""
        now = time.perf_counter_ns()
        acks.sending(client_id, now)
        text = f"{now} {client_id}{pad}"
        frame = {"type": "send", "room": room, "text": text, "client_id": client_id}
        await self.conns[idx].send(orjson.dumps(frame).decode())

    async def close(self, concurrency: int = 256) -> None:
        """Close every connection politely and wait for the readers to finish."""
        gate = asyncio.Semaphore(concurrency)

        async def one(ws) -> None:
            ws._bench_closing = True
            async with gate:
                await ws.close()

        await asyncio.gather(*(one(ws) for ws in self.conns if ws is not None), return_exceptions=True)
        await asyncio.gather(*self.readers, return_exceptions=True)
        self.conns, self.readers = [], []


class Schedule:
    """An open loop of ``rate`` operations a second for ``duration`` seconds.

    Each operation is due at a fixed time whether or not earlier ones were answered, so a slow
    server shows as latency instead of silently lowering the rate. ``lag`` is how late (seconds)
    the generator itself fell behind its schedule, reported as ``sender_lag_max_ms``.
    """

    def __init__(self, rate: float, duration: float):
        self.rate = rate
        self.total = int(rate * duration)
        self.start = time.perf_counter()
        self.lag = 0.0

    async def ticks(self):
        """Yield 0, 1, 2 ... each at its due time."""
        self.start = time.perf_counter()
        for k in range(self.total):
            delay = self.start + k / self.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                self.lag = max(self.lag, -delay)
            yield k


async def drive(pool: Pool, run: Run, *, rate: float, duration: float, tag: str, senders=None) -> dict:
    """Send ``rate`` messages a second for ``duration`` seconds (a :class:`Schedule`), round-robin
    over ``senders``."""
    senders = list(range(len(pool.conns))) if senders is None else senders
    schedule = Schedule(rate, duration)
    async for k in schedule.ticks():
        await pool.send(senders[k % len(senders)], run.room, f"{tag}-{k}", run.acks)
    return {
        "sent": schedule.total,
        "send_window_s": round(time.perf_counter() - schedule.start, 3),
        "sender_lag_max_ms": round(schedule.lag * 1e3, 1),
    }


async def drain(run: Run, *, idle: float = 3.0, cap: float = 60.0) -> float:
    """Wait until every owed delivery and ack arrived, or nothing arrived for ``idle`` seconds."""
    start = time.monotonic()
    last_change, last_seen = start, -1
    while time.monotonic() - start < cap:
        d = run.deliveries
        seen = d.count + d.duplicates + len(run.acks.acked)
        if len(run.acks.acked) == len(run.acks.sent) and d.count >= d.expected():
            break
        if seen != last_seen:
            last_change, last_seen = time.monotonic(), seen
        elif time.monotonic() - last_change > idle:
            break
        await asyncio.sleep(0.05)
    return round(time.monotonic() - start, 2)

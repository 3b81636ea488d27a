"""Scenario 8: messages after they are sent. Edits and reactions in the middle of a busy room.

100 clients in one room; 50 operations a second, of which 10% edit and 20% react to a message
sent earlier in the run (over HTTP ``PATCH`` and ``PUT``, as the app does: WebSocket frames from
clients are only ``send`` and ``typing``) and the rest are new messages sent over the WebSocket.
Each edit or reaction targets a message no other change touches, so every ``update`` frame a
client receives belongs to exactly one change: its latency is from the moment the HTTP request
went out to the frame's arrival, beside the messages' send-to-delivery latency of the same run.
Both are counted per (receiver, seq), so losses and duplicates show for updates too.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from bench.http import HttpClient
from bench.procs import Meter
from bench.stats import Deliveries, percentiles
from bench.wsload import Pool, Run, Schedule, drain


class LifecycleRun(Run):
    """A :class:`Run` that also counts ``update`` frames, by the change each one belongs to."""

    def __init__(self, room: str):
        super().__init__(room)
        self.updates = Deliveries()
        self.change_sent: dict[int, int] = {}  # seq -> when its one change was requested
        self.sender_of: dict[str, int] = {}  # client_id -> the connection that sent it
        self.targets: deque[tuple[int, int]] = deque()  # (seq, sender connection), not yet changed
        self.change_failures = 0

    def on_ack(self, frame: dict, now_ns: int) -> None:
        """Count the ack, and offer the stored message as the target of a later change."""
        super().on_ack(frame, now_ns)
        message = frame["message"]
        if message["room"] == self.room and frame["client_id"] in self.sender_of:
            self.targets.append((message["seq"], self.sender_of.pop(frame["client_id"])))

    def on_update(self, receiver: int, frame: dict, now_ns: int) -> None:
        """Count one ``update`` frame of this run's room."""
        message = frame["message"]
        sent = self.change_sent.get(message["seq"])
        if message["room"] == self.room and sent is not None:
            self.updates.record(receiver, self.room, message["seq"], frame["pos"], sent, now_ns)


async def lifecycle(
    base_url: str,
    ws_url: str,
    cookies: list[str],
    room: str,
    *,
    clients: int,
    rate: float,
    duration: float,
    edits: float,
    reactions: float,
    tag: str,
    servers: dict,
) -> dict:
    """Run the mix and report message and update delivery side by side."""
    pool = Pool(ws_url)
    http = [HttpClient(base_url, cookie) for cookie in cookies]
    locks = [asyncio.Lock() for _ in cookies]  # one request at a time on each keep-alive client
    try:
        await pool.open(cookies, clients)
        await asyncio.gather(*(client.connect() for client in http))  # as open pages hold theirs
        await asyncio.sleep(0.5)
        run = LifecycleRun(room)
        for i in range(clients):
            run.deliveries.add_receiver(i)
            run.updates.add_receiver(i)
        pool.run = run
        meter = Meter(servers)
        changes: list[asyncio.Task] = []

        async def change(kind: str, seq: int, who: int, k: int) -> None:
            path = f"/api/rooms/{room}/messages/{seq}"
            async with locks[who]:
                run.change_sent[seq] = time.perf_counter_ns()
                if kind == "edit":
                    status, _, _ = await http[who].request("PATCH", path, {"text": f"edited {tag}-{k}"})
                else:
                    emoji = ":+1:" if k % 2 else "%F0%9F%91%8D"
                    status, _, _ = await http[who].request("PUT", f"{path}/reactions/{emoji}")
            if status == 200:
                run.updates.expect(room, seq)
            else:
                run.change_failures += 1

        edit_slots, change_slots = round(edits * 100), round((edits + reactions) * 100)
        order = sorted(range(100), key=lambda n: (n * 37) % 100)  # the kinds interleaved, not in runs
        schedule, kinds = Schedule(rate, duration), {"send": 0}
        async for k in schedule.ticks():
            slot = order[k % 100]  # each hundred operations hold the shares exactly, interleaved
            kind = "edit" if slot < edit_slots else "react" if slot < change_slots else "send"
            if kind != "send" and run.targets:
                seq, sender = run.targets.popleft()
                who = sender % len(cookies) if kind == "edit" else (sender + 1 + k) % len(cookies)
                changes.append(asyncio.create_task(change(kind, seq, who, k)))
            else:
                kind, idx = "send", k % clients
                client_id = f"{tag}-{k}"
                run.sender_of[client_id] = idx
                await pool.send(idx, room, client_id, run.acks)
            kinds[kind] = kinds.get(kind, 0) + 1
        await asyncio.gather(*changes)
        drain_s = await drain(run, idle=3.0, cap=duration + 30)
        for _ in range(60):  # updates may still be on their way after the messages drained
            if run.updates.count >= run.updates.expected():
                break
            await asyncio.sleep(0.05)
        usage = meter.result()
    finally:
        await pool.close()
        for client in http:
            await client.close()
    d, u = run.deliveries, run.updates
    return {
        "clients": clients,
        "rate_per_s": rate,
        "duration_s": duration,
        "operations": kinds,
        "sender_lag_max_ms": round(schedule.lag * 1e3, 1),
        "drain_s": drain_s,
        "stored": len(d.stored),
        "unacked": run.acks.unacked(),
        "deliveries": d.count,
        "expected": d.expected(),
        "lost": d.lost(),
        "duplicates": d.duplicates,
        "out_of_order": d.out_of_order,
        "dropped_connections": run.dropped,
        "errors": dict(run.errors),
        "latency": percentiles(d.latency_ns),
        "changes": len(u.stored),
        "change_failures": run.change_failures,
        "update_deliveries": u.count,
        "update_expected": u.expected(),
        "update_lost": u.lost(),
        "update_duplicates": u.duplicates,
        "update_latency": percentiles(u.latency_ns),
        "usage": usage,
    }


async def scenario_8(ctx) -> dict:
    """Edits and reactions in a room of 100 clients at 50 operations/s (see the module docstring)."""
    size = ctx.sizes["s8"]
    room = await ctx.room("bench s8")
    return await lifecycle(
        ctx.stack.url, ctx.stack.ws_url, ctx.cookies(), room, **size, tag="s8", servers=ctx.stack.servers()
    )

"""Scenario 6: 100 clients long-polling ``GET /api/events?wait=25``, as the SPA does without WebSockets.

Each poller holds its own keep-alive connection and loops on ``after=POS&wait=25``. One more
client posts messages with ``POST /api/rooms/{id}/messages`` at a fixed rate, its clock in the
text; every poller records when each message event reached it. Deliveries are counted per poller
by (room, seq), so a lost or repeated event shows.
"""

from __future__ import annotations

import asyncio
import time

import orjson

from bench.http import HttpClient
from bench.procs import Meter, cpu_cost
from bench.scenarios import Context
from bench.stats import Deliveries, percentiles
from bench.wsload import stamp


async def _poll(url: str, cookie: str, idx: int, room: str, ledger: Deliveries, ready: asyncio.Event) -> None:
    client = HttpClient(url, cookie)
    try:
        body = await client.json("GET", "/api/events")
        pos = body["pos"]
        ready.set()
        while True:
            body = await client.json("GET", f"/api/events?after={pos}&wait=25", timeout=40)
            now = time.perf_counter_ns()
            for event in body["events"]:
                if event["type"] == "message" and event["message"]["room"] == room:
                    m = event["message"]
                    ledger.record(idx, room, m["seq"], event["pos"], stamp(m["text"]), now)
            pos = body["pos"]
    finally:
        await client.close()


async def scenario_6(ctx: Context) -> dict:
    """Start the pollers, post at a fixed rate, wait for every delivery, report latency and losses."""
    size = ctx.sizes["s6"]
    room = await ctx.room("bench s6")
    cookies = ctx.cookies()
    ledger = Deliveries()
    readies = [asyncio.Event() for _ in range(size["clients"])]
    tasks = []
    for i in range(size["clients"]):
        ledger.add_receiver(i)
        tasks.append(
            asyncio.create_task(_poll(ctx.stack.url, cookies[i % len(cookies)], i, room, ledger, readies[i]))
        )
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
    await asyncio.sleep(0.5)  # every poller is now parked in its long poll
    meter = Meter(ctx.stack.servers())
    sender = HttpClient(ctx.stack.url, cookies[0])
    total = int(size["rate"] * size["duration"])
    post_ns, failures = [], 0
    start = time.perf_counter()
    for k in range(total):
        delay = start + k / size["rate"] - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        sent = time.perf_counter_ns()
        status, _h, data = await sender.request(
            "POST", f"/api/rooms/{room}/messages", {"text": f"{sent} s6-{k}", "client_id": f"s6-{k}"}
        )
        post_ns.append(time.perf_counter_ns() - sent)
        if status == 201:
            ledger.expect(room, orjson.loads(data)["message"]["seq"])
        else:
            failures += 1
    await sender.close()
    drained = await _drain(ledger, cap=30.0)
    usage = meter.result()
    crashed = [t for t in tasks if t.done() and t.exception() is not None]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    cost = cpu_cost(usage, len(ledger.stored), ledger.count)
    return {
        "cpu_cost": cost,
        "clients": size["clients"],
        "rate_per_s": size["rate"],
        "duration_s": size["duration"],
        "sent": total,
        "post_failures": failures,
        "stored": len(ledger.stored),
        "deliveries": ledger.count,
        "expected": ledger.expected(),
        "lost": ledger.lost(),
        "duplicates": ledger.duplicates,
        "out_of_order": ledger.out_of_order,
        "pollers_failed": len(crashed),
        "poller_errors": sorted({str(t.exception())[:200] for t in crashed}),
        "latency": percentiles(ledger.latency_ns),
        "post_latency": percentiles(post_ns),
        "drain_s": drained,
        "usage": usage,
    }


async def _drain(ledger: Deliveries, *, cap: float, idle: float = 3.0) -> float:
    start = time.monotonic()
    last, last_change = -1, start
    while time.monotonic() - start < cap and ledger.count < ledger.expected():
        if ledger.count != last:
            last, last_change = ledger.count, time.monotonic()
        elif time.monotonic() - last_change > idle:
            break
        await asyncio.sleep(0.05)
    return round(time.monotonic() - start, 2)

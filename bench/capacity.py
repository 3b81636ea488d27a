"""Scenario 3: 10,000 open, idle WebSockets on one front-server process, and what each one costs.

The connections are spread over the benchmark's users (a user may hold many WebSockets). The
front server is restarted first, so its memory is read on a process that has held no connection
yet; it is read before opening and once they are all open and idle; the difference
divided by the count is the cost of one connection. Then one message is sent to a room all those
users are in, to prove every connection is alive: each must receive it exactly once.
"""

from __future__ import annotations

import asyncio
import time

from bench.procs import Meter, log
from bench.scenarios import Context, chat
from bench.wsload import OpenError, Pool

# Connections opened per step, and how long one step may take before the server is judged full.
STEP = 1000
STEP_TIMEOUT = 60


async def scenario_3(ctx: Context) -> dict:
    """Open the connections, measure memory per connection, check all are alive, close them."""
    count = ctx.sizes["s3"]["connections"]
    room = await ctx.room("bench s3")
    # Memory freed by earlier scenarios' connections stays in the process and would be reused,
    # hiding the cost of new ones: measure on a front server that has held no connection yet.
    ctx.stack.restart_front()
    front, backend = ctx.stack.front, ctx.stack.backend
    await asyncio.sleep(1.0)
    before = {"front": front.rss(), "backend": backend.rss()}
    meter = Meter(ctx.stack.servers())
    pool = Pool(ctx.stack.ws_url)
    started = time.perf_counter()
    error, steps, open_s = None, [], 0.0
    # Open in steps so a server that stops accepting shows as "how far it got" within a minute,
    # and the memory curve shows whether the cost per connection is constant.
    while len(pool.conns) < count and error is None:
        step = min(STEP, count - len(pool.conns))
        try:
            await asyncio.wait_for(pool.open(ctx.cookies(), step, concurrency=100), STEP_TIMEOUT)
        except TimeoutError:
            error = f"a step of {step} connections did not open within {STEP_TIMEOUT} s"
        except OpenError as exc:
            error = str(exc)
        steps.append({"open": _opened(pool), "front_rss_mib": _mib(front.rss())})
        if error is None:
            open_s = time.perf_counter() - started
        log(f"scenario 3: {_opened(pool)} WebSockets open")
    opened = _opened(pool)
    try:
        # Idle: let the presence frames and any per-connection start-up settle before reading RSS.
        await asyncio.sleep(3.0)
        idle = {"front": front.rss(), "backend": backend.rss()}
        usage = meter.result()
        live = None
        if opened:
            run = await chat(ctx, pool, room, rate=1, duration=1, tag="s3")
            d = run.deliveries
            live = {
                "expected": d.expected(),
                "received": d.count,
                "lost": d.lost(),
                "duplicates": d.duplicates,
            }
        after_send = front.rss()
    finally:
        await pool.close(concurrency=500)
    await asyncio.sleep(2.0)
    per_conn = (idle["front"] - before["front"]) / opened if opened else None
    return {
        "asked": count,
        "opened": opened,
        "error": error,
        "open_s": round(open_s, 1),
        "connections_per_s": round(opened / open_s) if open_s else None,
        "front_rss_before_mib": _mib(before["front"]),
        "front_rss_idle_mib": _mib(idle["front"]),
        "front_rss_after_one_broadcast_mib": _mib(after_send),
        "front_rss_after_close_mib": _mib(front.rss()),
        "backend_rss_before_mib": _mib(before["backend"]),
        "backend_rss_idle_mib": _mib(idle["backend"]),
        "front_kib_per_connection": round(per_conn / 1024, 1) if per_conn is not None else None,
        "front_kib_per_connection_after_broadcast": round((after_send - before["front"]) / opened / 1024, 1)
        if opened
        else None,
        "liveness": live,
        "steps": steps,
        "usage": usage,
    }


def _opened(pool: Pool) -> int:
    return sum(1 for ws in pool.conns if ws is not None)


def _mib(value: int) -> float:
    return round(value / 2**20, 1)

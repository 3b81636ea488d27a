"""The soak (``FULL=1`` only): 200 clients chatting for 10 minutes while both processes' memory is sampled.

After the warm-up, neither process may grow by more than 10% over its first post-warm-up sample,
and nothing may be lost or duplicated. A leak in the hub (connections, queues, per-message state)
or the backend (indexes, idempotency keys) shows here long before it shows in production.
"""

from __future__ import annotations

import asyncio
import time

from bench.fanout import summarize
from bench.procs import Meter
from bench.scenarios import Context
from bench.wsload import Pool, Run, drain, drive

MAX_GROWTH = 0.10


async def soak(ctx: Context) -> dict:
    """Run the soak and report the memory samples, the growth and the delivery ledger."""
    size = ctx.sizes["soak"]
    room = await ctx.room("bench soak")
    samples: list[dict] = []
    pool = Pool(ctx.stack.ws_url)
    await pool.open(ctx.cookies(), size["clients"])
    run = Run(room)
    for i in range(size["clients"]):
        run.deliveries.add_receiver(i)
    pool.run = run
    started = time.monotonic()

    async def sample() -> None:
        while True:
            samples.append(
                {
                    "t_s": round(time.monotonic() - started, 1),
                    "front_mib": round(ctx.stack.front.rss() / 2**20, 1),
                    "backend_mib": round(ctx.stack.backend.rss() / 2**20, 1),
                }
            )
            await asyncio.sleep(size["sample_every"])

    sampler = asyncio.create_task(sample())
    meter = Meter(ctx.stack.servers())
    try:
        sent = await drive(pool, run, rate=size["rate"], duration=size["duration"], tag="soak")
        drain_s = await drain(run, idle=3.0, cap=60)
    finally:
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
        await pool.close()
    result = summarize(run, clients=size["clients"], rate=size["rate"], duration=size["duration"])
    result.update(sent, drain_s=drain_s, usage=meter.result(), samples=samples)
    after = [s for s in samples if s["t_s"] >= size["warmup"]]
    for name in ("front", "backend"):
        if after:
            base = after[0][f"{name}_mib"]
            result[f"{name}_growth"] = round(max(s[f"{name}_mib"] for s in after) / base - 1, 3)
    result["memory_ok"] = all(result.get(f"{n}_growth", 1) <= MAX_GROWTH for n in ("front", "backend"))
    return result

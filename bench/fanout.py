"""Room fan-out runs: N clients in one room, messages sent at a fixed rate, every delivery counted.

Scenarios 1 and 2, their floor counterparts (scenario 7), the soak and the smoke test are all this
one run with different sizes, so the real stack and the floor are measured by the same code.
"""

from __future__ import annotations

import asyncio
import time

from bench.procs import Meter, cpu_cost
from bench.stats import percentiles, worst_second_p99
from bench.wsload import Pool, Run, drain, drive


async def fanout(
    ws_url: str,
    cookies: list[str],
    room: str,
    *,
    clients: int,
    rate: float,
    duration: float,
    tag: str,
    servers: dict,
) -> dict:
    """Open ``clients`` WebSockets, send ``rate`` messages/s for ``duration`` s, report all of it."""
    pool = Pool(ws_url)
    opened = time.perf_counter()
    try:
        await pool.open(cookies, clients)
        open_s = time.perf_counter() - opened
        # Let the presence frames of the new connections pass before the clock starts.
        await asyncio.sleep(0.5)
        run = Run(room)
        for i in range(clients):
            run.deliveries.add_receiver(i)
        pool.run = run
        meter = Meter(servers)
        sent = await drive(pool, run, rate=rate, duration=duration, tag=tag)
        drain_s = await drain(run, idle=3.0, cap=duration + 30)
        usage = meter.result()
    finally:
        extensions = pool.extensions
        await pool.close()
    result = summarize(run, clients=clients, rate=rate, duration=duration)
    result.update(sent, open_s=round(open_s, 2), drain_s=drain_s, usage=usage, extensions=extensions)
    result["cpu_cost"] = cpu_cost(usage, result["stored"], result["deliveries"])
    return result


def summarize(run: Run, *, clients: int, rate: float, duration: float) -> dict:
    """The figures of one fan-out run: losses, duplicates, latency and sustained deliveries/s."""
    d = run.deliveries
    first_send = min(run.acks.sent.values(), default=None)
    span_s = (d.last_ns - first_send) / 1e9 if d.last_ns and first_send else None
    return {
        "clients": clients,
        "rate_per_s": rate,
        "duration_s": duration,
        "acked": len(run.acks.acked),
        "unacked": run.acks.unacked(),
        "extra_acks": run.acks.extra,
        "stored": len(d.stored),
        "deliveries": d.count,
        "expected": d.expected(),
        "lost": d.lost(),
        "receivers_missing": d.receivers_missing(),
        "duplicates": d.duplicates,
        "out_of_order": d.out_of_order,
        "dropped_connections": run.dropped,
        "errors": dict(run.errors),
        "asked_deliveries_per_s": rate * clients,
        "deliveries_per_s": round(d.count / span_s) if span_s else 0,
        "latency": percentiles(d.latency_ns),
        "worst_second_p99_ms": worst_second_p99(d.latency_ns, d.arrival_ns),
        "ack_latency": percentiles(run.acks.latency_ns),
    }

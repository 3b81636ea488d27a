"""Scenarios 1, 2, 4 and 7: fan-out, crowd, acknowledgement, and the floor for 1 and 2.

Every scenario gets its own private room holding all the benchmark's users, so no run sees
another's messages. Sizes come from :data:`SIZES`; ``FULL=1`` picks the longer, bigger set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.ackpath import ack_path
from bench.disk import CALM_DISK_MS
from bench.fanout import fanout
from bench.procs import Server
from bench.stack import Stack
from bench.wsload import Pool, Run, drain, drive

# Default sizes keep the whole run near 5 minutes on 2 cores; FULL runs longer.
SIZES = {
    "default": {
        "users": 100,
        "s1": {"clients": 100, "rate": 50, "duration": 10, "rounds": 5},
        "s2": {"clients": 1000, "rate": 20, "duration": 10},
        "s3": {"connections": 10_000},
        "s4": {"clients": 10, "rate": 100, "duration": 10},
        "s5": {"messages": 1_000_000, "reads": 200, "changes": 0.1},
        "s6": {"clients": 100, "rate": 5, "duration": 10},
        "s8": {"clients": 100, "rate": 50, "duration": 10, "edits": 0.1, "reactions": 0.2},
        "s9": {"messages": [1000, 50_000, 1_000_000], "queries": 200, "lag": 500, "cap_s": 1800},
        "s11": {"clients": 1000, "rate": 20, "duration": 10, "split_clients": 100, "split_rate": 50},
        "s12": {"messages": 5000, "switches": 20},
    },
    "full": {
        "users": 100,
        "s1": {"clients": 100, "rate": 50, "duration": 30, "rounds": 5},
        "s2": {"clients": 1000, "rate": 20, "duration": 30},
        "s3": {"connections": 10_000},
        "s4": {"clients": 10, "rate": 100, "duration": 30},
        "s5": {"messages": 1_000_000, "reads": 1000, "changes": 0.1},
        "s6": {"clients": 100, "rate": 5, "duration": 30},
        "s8": {"clients": 100, "rate": 50, "duration": 30, "edits": 0.1, "reactions": 0.2},
        "s9": {"messages": [1000, 50_000, 1_000_000], "queries": 1000, "lag": 1500, "cap_s": 2400},
        "s11": {"clients": 1000, "rate": 20, "duration": 30, "split_clients": 100, "split_rate": 50},
        "s12": {"messages": 5000, "switches": 100},
        "soak": {"clients": 200, "rate": 20, "duration": 600, "warmup": 60, "sample_every": 10},
    },
}


@dataclass
class Context:
    """What the scenarios share: the stack, its users, the floor, the sizes, the results so far."""

    stack: Stack
    users: list[str]
    sizes: dict
    floor: Server | None = None
    results: dict = field(default_factory=dict)

    def cookies(self) -> list[str]:
        """One cookie per user, in user order."""
        return [self.stack.cookies[u] for u in self.users]

    async def room(self, name: str) -> str:
        """A new private room holding every benchmark user."""
        return await self.stack.create_room(name, self.users)


def _load(size: dict) -> dict:
    """The fan-out's own arguments of a size (without ``rounds``)."""
    return {k: v for k, v in size.items() if k != "rounds"}


async def _ours(ctx: Context, key: str, tag: str) -> dict:
    room = await ctx.room(f"bench {tag}")
    return await fanout(
        ctx.stack.ws_url, ctx.cookies(), room, **_load(ctx.sizes[key]), tag=tag, servers=ctx.stack.servers()
    )  # fmt: skip


async def _floor(ctx: Context, key: str, tag: str) -> dict:
    ws_url = "ws" + ctx.floor.url.removeprefix("http") + "/ws"
    return await fanout(
        ws_url, [""], f"floor-{tag}", **_load(ctx.sizes[key]), tag=tag, servers={"floor": ctx.floor}
    )


async def scenario_1(ctx: Context) -> dict:
    """Room fan-out: 100 clients in one room, 50 messages/s, in rounds alternating with the floor.

    One good run proves little: each round runs ours and then the floor for the same time, and the
    report takes the worst round of each, so a stall that comes now and then shows, with how slow
    the disk's fsync was meanwhile (``bench.disk``).
    """
    rounds = []
    for number in range(1, ctx.sizes["s1"]["rounds"] + 1):
        ours = await _ours(ctx, "s1", f"s1r{number}")
        floor = await _floor(ctx, "s1", f"f1r{number}")
        rounds.append({"ours": ours, "floor": floor})
    return {"rounds": rounds, **tails(rounds)}


def tails(rounds: list[dict]) -> dict:
    """Worst and best p99 of ours and of the floor over the rounds, and their ratio; and the worst
    of ours over the rounds that ran on a calm disk, for a tail of our own beside the disk's."""

    def p99s(side: str, chosen: list[dict]) -> list[float]:
        return [r[side]["latency"]["p99_ms"] for r in chosen if r[side]["latency"]["p99_ms"] is not None]

    ours, floor = p99s("ours", rounds), p99s("floor", rounds)
    if not ours or not floor:
        return {"worst_p99_ms": None, "floor_worst_p99_ms": None, "worst_ratio": None}

    def calm_disk(r: dict) -> bool:
        return (r["ours"].get("usage", {}).get("disk_slowest_fsync_ms") or 0) < CALM_DISK_MS

    calm = p99s("ours", [r for r in rounds if calm_disk(r)])
    return {
        "worst_p99_ms": max(ours),
        "best_p99_ms": min(ours),
        "floor_worst_p99_ms": max(floor),
        "floor_best_p99_ms": min(floor),
        "worst_ratio": round(max(ours) / max(floor), 2),
        "calm_disk_rounds": len(calm),
        "calm_disk_worst_p99_ms": max(calm, default=None),
        "calm_disk_worst_ratio": round(max(calm) / max(floor), 2) if calm else None,
    }


async def scenario_2(ctx: Context) -> dict:
    """Crowd: 1,000 clients in one room, 20 messages/s."""
    return await _ours(ctx, "s2", "s2")


async def scenario_7(ctx: Context) -> dict:
    """The floor of scenario 2 (scenario 1 runs its own), and our figures as ratios to it."""
    floor = await _floor(ctx, "s2", "f2")
    ours = ctx.results.get("2")
    return {"s2": {"floor": floor, "ratios": ratios(ours, floor) if ours else None}}


def ratios(ours: dict, floor: dict) -> dict:
    """Our p50/p99 latency and throughput divided by the floor's (p99 ratio <= 1.5 is the aim)."""

    def div(a, b):
        return round(a / b, 2) if a is not None and b else None

    return {
        "p50": div(ours["latency"]["p50_ms"], floor["latency"]["p50_ms"]),
        "p99": div(ours["latency"]["p99_ms"], floor["latency"]["p99_ms"]),
        "throughput": div(ours["deliveries_per_s"], floor["deliveries_per_s"]),
    }


async def scenario_4(ctx: Context) -> dict:
    """Acknowledgement: send-to-ack latency at 100 messages/s, store and fsync included."""
    size = ctx.sizes["s4"]
    members = ctx.users[: size["clients"]]
    room = await ctx.stack.create_room("bench s4", members)
    result = await fanout(
        ctx.stack.ws_url,
        [ctx.stack.cookies[u] for u in members],
        room,
        **size,
        tag="s4",
        servers=ctx.stack.servers(),
    )
    # Then the parts of an ack's way below the front server, one at a time (bench/ackpath.py).
    result["ack_path"] = await ack_path(ctx.stack, members[0], room)
    return result


async def chat(ctx: Context, pool: Pool, room: str, *, rate: float, duration: float, tag: str) -> Run:
    """Send on an already open pool for a while and drain; the run's ledger is the result."""
    run = Run(room)
    live = [i for i, ws in enumerate(pool.conns) if ws is not None]
    for i in live:
        run.deliveries.add_receiver(i)
    pool.run = run
    await drive(pool, run, rate=rate, duration=duration, tag=tag, senders=live)
    await drain(run, idle=3.0, cap=30)
    return run

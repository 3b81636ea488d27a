"""Scenario 11: several front servers on one Redis.

Two measurements in one run, on the shared stack's backend and users:

* **Workers**: scenario 2's crowd (1,000 clients, 20 messages/s) on the stack's front server (one
  worker, no Redis), then on a ``--redis --workers 2`` front server: deliveries/s and p99 of
  each. More workers must not be slower.
* **Cross-front**: one room, half its clients on front server X and half on Y (both ``--redis``);
  every message is sent by a client on X, so each one is delivered both on its own front server
  and across to the other. Delivery p50 and p99 of the two halves, from the same messages: the
  extra hop may cost at most 2 ms at p50. (Messages never travel through Redis: each front server
  follows the backend's log itself, so the two halves differ only by which hub woke first.)

Redis is Debian's ``redis-server``, started here on a free port with no persistence.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager

from bench.ackpath import backend_ceiling
from bench.fanout import fanout, summarize
from bench.procs import Meter, Server
from bench.stats import percentiles
from bench.wsload import Pool, Run, drain, drive

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


@contextmanager
def redis_server():
    """A ``redis-server`` on a free loopback port for the block; yields its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="chat-bench-redis-")
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir, "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


def front(backend: Server, *flags: str) -> Server:
    """A front server on ``backend`` with ``flags``."""
    return Server("front", ["MainWServer.py", "--port", "0", "--backend", backend.url, *flags])


def ws_url(server: Server) -> str:
    return "ws" + server.url.removeprefix("http") + "/ws"


class SplitRun(Run):
    """A run whose receivers below ``split`` are on the senders' front server, the rest on another."""

    def __init__(self, room: str, split: int):
        super().__init__(room)
        self.split = split
        self.latency_ns = {"same": [], "cross": []}

    def on_message(self, receiver: int, frame: dict, now_ns: int) -> None:
        before = self.deliveries.count
        super().on_message(receiver, frame, now_ns)
        if self.deliveries.count > before and self.deliveries.latency_ns:
            side = "same" if receiver < self.split else "cross"
            self.latency_ns[side].append(self.deliveries.latency_ns[-1])


async def cross_front(x: Server, y: Server, backend: Server, cookies: list[str], room: str, *,
                      clients: int, rate: float, duration: float, tag: str) -> dict:  # fmt: skip
    """Half the clients on ``x`` (the senders among them), half on ``y``; the latency of each half."""
    half = clients // 2
    pool = Pool(ws_url(x))
    try:
        await pool.open(cookies, half)
        pool.ws_url = ws_url(y)
        await pool.open(cookies, clients - half)
        await asyncio.sleep(0.5)
        run = SplitRun(room, half)
        for i in range(clients):
            run.deliveries.add_receiver(i)
        pool.run = run
        meter = Meter({"front": x, "front_y": y, "backend": backend})
        sent = await drive(pool, run, rate=rate, duration=duration, tag=tag, senders=list(range(half)))
        drain_s = await drain(run, idle=3.0, cap=duration + 30)
        usage = meter.result()
    finally:
        await pool.close()
    result = summarize(run, clients=clients, rate=rate, duration=duration)
    result.update(sent, drain_s=drain_s, usage=usage)
    result["same_front"] = percentiles(run.latency_ns["same"])
    result["cross_front"] = percentiles(run.latency_ns["cross"])
    same, cross = result["same_front"]["p50_ms"], result["cross_front"]["p50_ms"]
    result["cross_extra_p50_ms"] = round(cross - same, 2) if same is not None and cross is not None else None
    return result


async def scenario_11(ctx) -> dict:
    """Crowd over one worker and over ``--workers 2``; cross-front against same-front delivery."""
    size = ctx.sizes["s11"]
    crowd = {k: size[k] for k in ("clients", "rate", "duration")}
    backend = ctx.stack.backend
    results = {}
    room = await ctx.room("bench s11 one worker")
    results["workers_1"] = await fanout(
        ctx.stack.ws_url, ctx.cookies(), room, **crowd, tag="s11w1", servers=ctx.stack.servers()
    )
    with redis_server() as url:
        two = front(backend, "--redis", url, "--workers", "2")
        try:
            room = await ctx.room("bench s11 two workers")
            results["workers_2"] = await fanout(
                ws_url(two),
                ctx.cookies(),
                room,
                **crowd,
                tag="s11w2",
                servers={"front": two, "backend": backend},
            )
        finally:
            two.stop()
        x, y = front(backend, "--redis", url), front(backend, "--redis", url)
        try:
            room = await ctx.room("bench s11 cross")
            results["cross"] = await cross_front(
                x, y, backend, ctx.cookies(), room,
                clients=size["split_clients"], rate=size["split_rate"], duration=size["duration"], tag="s11x",
            )  # fmt: skip
        finally:
            x.stop()
            y.stop()
    # The limit no number of front servers lifts: one backend writes every message.
    members = ctx.users[:16]
    room = await ctx.stack.create_room("bench s11 ceiling", members)
    results["backend_ceiling"] = await backend_ceiling(ctx.stack, members, room)
    return results

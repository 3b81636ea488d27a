"""Small runs of benchmark scenarios 1, 8, 11 and 12 and of ``bench.indexcost`` against the real
processes, so the benchmark cannot rot.

Ten clients in one room, 50 messages a second for 2 seconds, through the load generator that
``make bench`` uses: every message must be acknowledged, stored once and delivered exactly once to
every client. Timing is not asserted here; that is the benchmark's job.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path

import pytest

from bench.browser import scenario_12
from bench.cluster import REDIS_SERVER, scenario_11
from bench.fanout import fanout
from bench.http import HttpClient
from bench.indexcost import measure
from bench.lifecycle import lifecycle
from bench.procs import raise_nofile
from bench.report import table, usage_table
from bench.scenarios import Context
from bench.stack import Stack

pytestmark = pytest.mark.live


async def _on_a_fresh_stack(run) -> dict:
    """``run(stack, cookies, room)`` on a new stack whose 5 users share one room (10 clients)."""
    stack = Stack().start()
    try:
        users = await stack.sign_up(5, prefix="smoke")
        room = await stack.create_room("smoke", users)
        return await run(stack, [stack.cookies[u] for u in users], room)
    finally:
        stack.stop()


def smoke(run) -> dict:
    raise_nofile()
    return asyncio.run(_on_a_fresh_stack(run))


def test_fanout_smoke_delivers_every_message_once_to_every_client():
    result = smoke(
        lambda stack, cookies, room: fanout(
            stack.ws_url, cookies, room, clients=10, rate=50, duration=2, tag="smoke", servers=stack.servers()
        )
    )
    assert result["sent"] == 100
    assert (result["acked"], result["unacked"], result["stored"]) == (100, 0, 100)
    assert result["expected"] == 1000
    assert result["deliveries"] == 1000
    assert result["lost"] == 0
    assert result["duplicates"] == 0
    assert result["out_of_order"] == 0
    assert result["dropped_connections"] == 0
    assert result["errors"] == {}
    assert result["latency"]["count"] == 1000


def test_lifecycle_smoke_delivers_every_update_once_to_every_client():
    """Scenario 8 small: edits and reactions over HTTP reach every client once, as updates."""
    result = smoke(
        lambda stack, cookies, room: lifecycle(
            stack.url,
            stack.ws_url,
            cookies,
            room,
            clients=10,
            rate=50,
            duration=2,
            edits=0.1,
            reactions=0.2,
            tag="smoke8",
            servers=stack.servers(),
        )
    )
    ops = result["operations"]
    assert sum(ops.values()) == 100 and ops.get("edit", 0) >= 5 and ops.get("react", 0) >= 10
    assert (result["unacked"], result["lost"], result["duplicates"]) == (0, 0, 0)
    assert result["change_failures"] == 0 and result["changes"] == ops["edit"] + ops["react"]
    assert result["update_deliveries"] == result["update_expected"] == 10 * result["changes"]
    assert (result["update_lost"], result["update_duplicates"]) == (0, 0)
    assert result["errors"] == {} and result["dropped_connections"] == 0


def test_a_request_leaves_before_the_client_first_waits():
    """On an open connection the request is written at once, so scenario 8's clock, read just
    before the call, times an update from when its request left, as a message's from its frame."""

    async def run() -> bytes:
        with socket.create_server(("127.0.0.1", 0)) as listener:
            client = HttpClient(f"http://127.0.0.1:{listener.getsockname()[1]}")
            await client.connect()
            peer, _ = listener.accept()
            seen: list[bytes] = []

            def look() -> None:  # runs at the event loop's next turn, before any later-started task
                try:
                    seen.append(peer.recv(65536, socket.MSG_PEEK | socket.MSG_DONTWAIT))
                except BlockingIOError:
                    seen.append(b"")

            with peer:
                asyncio.get_running_loop().call_soon(look)
                with contextlib.suppress(TimeoutError):
                    await client.request("GET", "/healthz", timeout=0.2)  # never answered
                await client.close()
            return seen[0]

    assert asyncio.run(run()).startswith(b"GET /healthz HTTP/1.1\r\n")


@pytest.mark.skipif(not Path(REDIS_SERVER).exists(), reason="redis-server is not installed")
def test_several_front_servers_smoke_delivers_every_message_once_on_every_front():
    """Scenario 11 small: one worker, two workers on Redis, and cross-front beside same-front."""

    async def run(stack, cookies, room):
        users = list(stack.cookies)
        size = {"clients": 10, "rate": 20, "duration": 2, "split_clients": 10, "split_rate": 20}
        return await scenario_11(Context(stack=stack, users=users, sizes={"s11": size}))

    result = smoke(run)
    for part in ("workers_1", "workers_2", "cross"):
        r = result[part]
        assert (r["sent"], r["acked"], r["unacked"]) == (40, 40, 0), part
        assert r["deliveries"] == r["expected"] == 400, part
        assert (r["lost"], r["duplicates"], r["out_of_order"], r["dropped_connections"]) == (0, 0, 0, 0), part
        assert r["errors"] == {}, part
    # Every message reached both halves: the senders' front server and the other one.
    assert result["cross"]["same_front"]["count"] == result["cross"]["cross_front"]["count"] == 200
    assert "11. Several front servers" in table({"11": result})
    assert "11. workers_2" in usage_table({"11": result})


def test_index_cost_smoke_reads_the_worker_and_its_index_thread_and_finds_every_message():
    result = asyncio.run(measure(messages=20, rounds=2, searches=5))
    totals, threads = result["cpu_ms_per_message"], result["index_thread_ms_per_message"]
    assert len(totals) == len(threads) == 2
    assert all(0 < thread < total for thread, total in zip(threads, totals, strict=True))
    assert result["search_after_send"]["count"] == 5
    assert result["not_found"] == 0


@pytest.mark.browser
def test_room_switch_smoke_scrolls_the_whole_room_and_times_every_switch():
    """Scenario 12 small: a room of 400 messages scrolled through in Chromium, two rounds of switches."""
    size = {"messages": 400, "switches": 2}
    result = asyncio.run(scenario_12(Context(stack=None, users=[], sizes={"s12": size})))
    assert result["messages"] == 400 and result["scroll_steps_up"] >= 1
    assert 0 < result["message_nodes_at_most"] <= 300  # static/js/rules.js: the list's cap
    assert (result["away"]["count"], result["back"]["count"], result["floor"]["count"]) == (2, 2, 4)
    assert "12. Room switch in Chromium" in table({"12": result})

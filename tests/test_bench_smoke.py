"""A small run of benchmark scenario 1 against the real processes, so the benchmark cannot rot.

Ten clients in one room, 50 messages a second for 2 seconds, through the load generator that
``make bench`` uses: every message must be acknowledged, stored once and delivered exactly once to
every client. Timing is not asserted here; that is the benchmark's job.
"""

from __future__ import annotations

import asyncio

import pytest

from bench.fanout import fanout
from bench.lifecycle import lifecycle
from bench.procs import raise_nofile
from bench.stack import Stack

pytestmark = pytest.mark.live


async def _smoke() -> dict:
    stack = Stack().start()
    try:
        users = await stack.sign_up(5, prefix="smoke")
        room = await stack.create_room("smoke", users)
        return await fanout(
            stack.ws_url,
            [stack.cookies[u] for u in users],
            room,
            clients=10,
            rate=50,
            duration=2,
            tag="smoke",
            servers=stack.servers(),
        )
    finally:
        stack.stop()


def test_fanout_smoke_delivers_every_message_once_to_every_client():
    raise_nofile()
    result = asyncio.run(_smoke())
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


async def _lifecycle_smoke() -> dict:
    stack = Stack().start()
    try:
        users = await stack.sign_up(5, prefix="smoke")
        room = await stack.create_room("smoke", users)
        return await lifecycle(
            stack.url,
            stack.ws_url,
            [stack.cookies[u] for u in users],
            room,
            clients=10,
            rate=50,
            duration=2,
            edits=0.1,
            reactions=0.2,
            tag="smoke8",
            servers=stack.servers(),
        )
    finally:
        stack.stop()


def test_lifecycle_smoke_delivers_every_update_once_to_every_client():
    """Scenario 8 small: edits and reactions over HTTP reach every client once, as updates."""
    raise_nofile()
    result = asyncio.run(_lifecycle_smoke())
    ops = result["operations"]
    assert sum(ops.values()) == 100 and ops.get("edit", 0) >= 5 and ops.get("react", 0) >= 10
    assert (result["unacked"], result["lost"], result["duplicates"]) == (0, 0, 0)
    assert result["change_failures"] == 0 and result["changes"] == ops["edit"] + ops["react"]
    assert result["update_deliveries"] == result["update_expected"] == 10 * result["changes"]
    assert (result["update_lost"], result["update_duplicates"]) == (0, 0)
    assert result["errors"] == {} and result["dropped_connections"] == 0

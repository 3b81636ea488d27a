"""Where an acknowledgement's time goes (scenario 4): the disk's fsync alone, and the backend's own
``POST`` of a message called directly, measured one after the other on the stack under test.

A WebSocket ``send`` is acknowledged once the front server has relayed it to the backend, the
backend has appended and fsynced it, and the answer has come back: the two figures here are the
parts of that path below the front server, so the ack's latency minus them is the front server
and its hops.
"""

from __future__ import annotations

import asyncio
import os
import time
from urllib.parse import urlsplit

import orjson
import urllib3

from bench.disk import fsync_times
from bench.procs import INTERNAL_SECRET
from bench.stack import Stack
from bench.stats import percentiles
from common.secret import HEADER

PROBES = 200
GAP_S = 0.005  # between two probes, so that each one is alone


def _headers(token: str) -> dict[str, str]:
    """A front server's headers on a call to the backend as the holder of ``token``."""
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json", HEADER: INTERNAL_SECRET}


def _backend_posts(backend_url: str, token: str, room: str) -> list[int]:
    address = urlsplit(backend_url)
    pool = urllib3.HTTPConnectionPool(address.hostname, address.port, maxsize=1)
    headers = _headers(token)
    took = []
    try:
        for number in range(PROBES):
            text = {"text": f"ack path probe {number}", "client_id": f"ap-{os.urandom(6).hex()}"}
            body = orjson.dumps(text)
            started = time.perf_counter_ns()
            answer = pool.urlopen("POST", f"/api/rooms/{room}/messages", body=body, headers=headers)
            took.append(time.perf_counter_ns() - started)
            if answer.status != 201:
                raise RuntimeError(f"the backend answered {answer.status}: {answer.data[:200]!r}")
            time.sleep(GAP_S)
    finally:
        pool.close()
    return took


async def ack_path(stack: Stack, user: str, room: str) -> dict:
    """The fsync of a small append on the data directory's disk, and the backend's message POST."""
    token = stack.cookies[user].split("=", 1)[1]
    fsync = await asyncio.to_thread(fsync_times, str(stack.data_dir), PROBES, GAP_S)
    posts = await asyncio.to_thread(_backend_posts, stack.backend.url, token, room)
    return {"fsync_alone": percentiles(fsync), "backend_post": percentiles(posts)}


CEILING_POSTERS = 16  # concurrent posters: half the backend's 32 threads, as many front servers would
CEILING_SECONDS = 5.0


def _post_flat_out(backend_url: str, token: str, room: str, until: float, took: list[int]) -> None:
    """Post messages back to back until ``until`` (perf_counter), appending each one's time."""
    address = urlsplit(backend_url)
    pool = urllib3.HTTPConnectionPool(address.hostname, address.port, maxsize=1)
    headers = _headers(token)
    try:
        while time.perf_counter() < until:
            body = orjson.dumps({"text": "ceiling probe", "client_id": f"cp-{os.urandom(6).hex()}"})
            started = time.perf_counter_ns()
            answer = pool.urlopen("POST", f"/api/rooms/{room}/messages", body=body, headers=headers)
            if answer.status != 201:
                raise RuntimeError(f"the backend answered {answer.status}: {answer.data[:200]!r}")
            took.append(time.perf_counter_ns() - started)
    finally:
        pool.close()


async def backend_ceiling(stack: Stack, users: list[str], room: str) -> dict:
    """Messages per second the backend stores (each appended and fsynced) with
    :data:`CEILING_POSTERS` callers posting back to back for :data:`CEILING_SECONDS`, called
    directly as front servers call it: the ceiling of a single backend, whatever the number of
    front servers before it."""
    until = time.perf_counter() + CEILING_SECONDS
    took: list[int] = []
    started = time.perf_counter()
    await asyncio.gather(
        *(
            asyncio.to_thread(
                _post_flat_out, stack.backend.url, stack.cookies[user].split("=", 1)[1], room, until, took
            )
            for user in users[:CEILING_POSTERS]
        )
    )
    seconds = time.perf_counter() - started
    return {"posters": CEILING_POSTERS, "posts": len(took), "posts_per_s": round(len(took) / seconds, 1)} | {
        "post": percentiles(took)
    }

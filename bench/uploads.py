"""Scenario 9: 20 concurrent uploads of 5 MiB while scenario 1's fan-out runs.

The fan-out (100 clients in one room, 50 messages/s) runs as in scenario 1, one round, first alone
(the baseline on the machine as loaded at that moment), then again while 20
clients, each its own user, upload a 5 MiB file at once through the front server, then download
it again, in a loop until the fan-out ends. Reported: the fan-out's latency (its target is
scenario 1's: p99 <= 25 ms), and upload and download throughput in MiB/s over all clients.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import requests

from bench.fanout import fanout
from bench.procs import Meter
from bench.scenarios import Context

UPLOADERS = 20
FILE_BYTES = 5 * 1024 * 1024


def _upload_loop(url: str, cookie: str, room: str, stop: threading.Event, totals: dict, lock: threading.Lock):
    session = requests.Session()
    name, _, value = cookie.partition("=")
    session.cookies.set(name, value)
    number = 0
    data = bytearray(os.urandom(FILE_BYTES))  # made once: the generator's CPU is for the load
    while not stop.is_set():
        number += 1
        data[:16] = os.urandom(16)  # new bytes each time: no body is shared
        started = time.perf_counter()
        answer = session.post(
            f"{url}/api/rooms/{room}/files",
            files={"file": (f"bench-{number}.bin", bytes(data))},
            data={"client_id": f"b-{os.urandom(8).hex()}"},
            timeout=120,
        )
        up = time.perf_counter() - started
        if answer.status_code != 201:
            with lock:
                totals["failed"] += 1
                totals["last_error"] = f"upload: {answer.status_code} {answer.text[:120]}"
            continue
        started = time.perf_counter()
        got = 0
        with session.get(url + answer.json()["message"]["file"]["url"], stream=True, timeout=120) as down:
            for piece in down.iter_content(256 * 1024):
                got += len(piece)
            if down.status_code != 200:
                with lock:
                    totals["failed"] += 1
                    totals["last_error"] = f"download: {down.status_code}"
        with lock:
            totals["uploads"] += 1
            totals["up_s"] += up
            totals["down_s"] += time.perf_counter() - started
            totals["bytes_up"] += len(data)
            totals["bytes_down"] += got
    session.close()


def _run_uploaders(job: dict) -> dict:
    """In the uploaders' own process: loop until ``job["seconds"]`` are over; the totals."""
    stop = threading.Event()
    lock = threading.Lock()
    totals = {"uploads": 0, "failed": 0, "up_s": 0.0, "down_s": 0.0, "bytes_up": 0, "bytes_down": 0}
    threads = [
        threading.Thread(
            target=_upload_loop, args=(job["url"], cookie, job["room"], stop, totals, lock), daemon=True
        )
        for cookie in job["cookies"]
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(job["seconds"])
    stop.set()
    for thread in threads:
        thread.join(180)
    totals["wall_s"] = time.perf_counter() - started
    return totals


async def scenario_10(ctx: Context) -> dict:
    """The fan-out of scenario 1 (one round) with 20 clients uploading and downloading 5 MiB files."""
    size = {k: v for k, v in ctx.sizes["s1"].items() if k != "rounds"}
    fan_room = await ctx.room("bench s10 fan-out")
    file_room = await ctx.room("bench s10 files")
    cookies = ctx.cookies()
    # The same fan-out without uploads first, on the machine as it is now: what the uploads add.
    quiet = await fanout(
        ctx.stack.ws_url, ctx.cookies(), fan_room, **size, tag="s10q", servers=ctx.stack.servers()
    )  # fmt: skip
    # The uploaders run in a process of their own, so that their work does not slow the fan-out's
    # clients (and their clocks) in this one.
    job = {
        "url": ctx.stack.url,
        "room": file_room,
        "cookies": [cookies[-1 - i] for i in range(UPLOADERS)],
        "seconds": size["duration"] + 2,
    }
    meter = Meter(ctx.stack.servers())
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        uploads = loop.run_in_executor(pool, _run_uploaders, job)
        await asyncio.sleep(1.0)  # the uploads are under way before the fan-out starts
        fan = await fanout(
            ctx.stack.ws_url, ctx.cookies(), fan_room, **size, tag="s10", servers=ctx.stack.servers()
        )  # fmt: skip
        totals = await uploads
    wall = totals["wall_s"]
    mib = 1024 * 1024
    return {
        "usage": meter.result(),
        "fanout": fan,
        "fanout_without_uploads": quiet,
        "uploaders": UPLOADERS,
        "file_mib": FILE_BYTES / mib,
        "uploads": totals["uploads"],
        "failed": totals["failed"],
        "last_error": totals.get("last_error"),
        "wall_s": round(wall, 1),
        # Aggregate: all bytes moved over the wall time; per upload: bytes over its own time.
        "upload_mib_s": round(totals["bytes_up"] / mib / wall, 1),
        "download_mib_s": round(totals["bytes_down"] / mib / wall, 1),
        "per_upload_mib_s": round(totals["bytes_up"] / mib / totals["up_s"], 1) if totals["up_s"] else None,
        "per_download_mib_s": round(totals["bytes_down"] / mib / totals["down_s"], 1)
        if totals["down_s"]
        else None,
    }

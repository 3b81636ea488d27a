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


def _multipart(file_bytes: int) -> tuple[bytearray, str, int, int]:
    """One upload's body, built once: (body, boundary, where the client_id's 16 hex digits start,
    where the file's bytes start). Each upload changes those bytes in place, so the clients spend
    their CPU on sending, not on building 5 MiB of multipart (they stand for other machines)."""
    boundary = os.urandom(16).hex()
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="client_id"\r\n\r\nb-{"0" * 16}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body = bytearray(head) + os.urandom(file_bytes) + f"\r\n--{boundary}--\r\n".encode()
    return body, boundary, head.index(b"b-" + b"0" * 16) + 2, len(head)


def _upload_loop(url: str, cookie: str, room: str, stop: threading.Event, totals: dict, lock: threading.Lock):
    session = requests.Session()
    name, _, value = cookie.partition("=")
    session.cookies.set(name, value)
    body, boundary, id_at, file_at = _multipart(FILE_BYTES)
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    while not stop.is_set():
        body[id_at : id_at + 16] = os.urandom(8).hex().encode()
        body[file_at : file_at + 16] = os.urandom(16)  # new bytes each time: no body is shared
        started = time.perf_counter()
        answer = session.post(f"{url}/api/rooms/{room}/files", data=bytes(body), headers=headers, timeout=120)
        up = time.perf_counter() - started
        if answer.status_code != 201:
            with lock:
                totals["failed"] += 1
                totals["last_error"] = f"upload: {answer.status_code} {answer.text[:120]}"
            continue
        started = time.perf_counter()
        got = 0
        with session.get(url + answer.json()["message"]["file"]["url"], stream=True, timeout=120) as down:
            for piece in down.iter_content(1024 * 1024):
                got += len(piece)
            if down.status_code != 200:
                with lock:
                    totals["failed"] += 1
                    totals["last_error"] = f"download: {down.status_code}"
        with lock:
            totals["uploads"] += 1
            totals["up_s"] += up
            totals["down_s"] += time.perf_counter() - started
            totals["bytes_up"] += FILE_BYTES
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
    cpu = time.process_time()
    for thread in threads:
        thread.start()
    time.sleep(job["seconds"])
    stop.set()
    for thread in threads:
        thread.join(180)
    totals["wall_s"] = time.perf_counter() - started
    totals["cpu_s"] = time.process_time() - cpu
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
    usage = meter.result()
    moved = (totals["bytes_up"] + totals["bytes_down"]) / mib
    return {
        "usage": usage,
        # What the clients themselves took of the machine (counted among "other processes"), and
        # each server's CPU per MiB moved (up and down together): steadier than latency on a
        # shared machine, and the figure the relay's and the parser's chunk sizes move.
        "uploaders_cpu_pct": round(100 * totals["cpu_s"] / wall, 1),
        "cpu_ms_per_mib": {
            name: round(usage[f"{name}_cpu_pct"] / 100 * usage["wall_s"] * 1000 / moved, 2) if moved else None
            for name in ("front", "backend")
        },
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

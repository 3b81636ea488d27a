"""``python -m bench``: run the benchmark scenarios against the real stack and the floor, print the table.

``--only 1,4`` picks scenarios; ``CHAT_BENCH_FULL=1`` (``make bench FULL=1``) runs the longer,
bigger sizes and the soak. The full results go to ``bench/results/<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime

from bench import procs, wsload
from bench.browser import scenario_12
from bench.capacity import scenario_3
from bench.cluster import scenario_11
from bench.disk import DiskWatch
from bench.history import scenario_5
from bench.lifecycle import scenario_8
from bench.polling import scenario_6
from bench.procs import ROOT, Server, log, raise_nofile
from bench.report import table, usage_table, write
from bench.scenarios import SIZES, Context, scenario_1, scenario_2, scenario_4, scenario_7
from bench.search import scenario_9
from bench.soak import soak
from bench.stack import Stack
from bench.uploads import scenario_10

# Run order: the floor right after the runs it is compared with (scenario 1 alternates with it);
# several front servers (11) after the single one's runs; the 10,000 connections after the latency
# runs; the browser, history and search scenarios last, on stacks of their own, once the shared
# one is stopped.
ORDER = ["1", "2", "7", "4", "6", "8", "10", "11", "3", "soak", "12", "5", "9"]
RUNNERS = {
    "1": scenario_1,
    "2": scenario_2,
    "7": scenario_7,
    "4": scenario_4,
    "6": scenario_6,
    "8": scenario_8,
    "3": scenario_3,
    "10": scenario_10,
    "11": scenario_11,
    "soak": soak,
}
# Scenarios that start a stack of their own.
OWN_STACK = {"12": scenario_12, "5": scenario_5, "9": scenario_9}
# Seconds a scenario may run beyond its sending time before it is stopped and reported as such.
CAP_S = {False: 300, True: 900}
NEEDS_STACK = {"1", "2", "3", "4", "6", "8", "10", "11", "soak"}


async def guarded(scenario, servers, cap: float):
    """Run a scenario, stopping it early if a server under test exits or it runs past ``cap`` s."""
    task = asyncio.ensure_future(scenario)
    deadline = time.monotonic() + cap
    while True:
        done, _ = await asyncio.wait({task}, timeout=1.0)
        if done:
            return task.result()
        dead = [s for s in servers() if s.proc.poll() is not None]
        if dead or time.monotonic() > deadline:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if dead:
                tails = "; ".join(
                    f"{s.name} exited with {s.proc.returncode}: {' | '.join(s.tail)}" for s in dead
                )
                raise RuntimeError(tails[-1500:])
            raise TimeoutError(f"scenario still running after {cap:.0f} s")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="comma-separated scenarios to run, e.g. 1,4 (soak for the soak)")
    parser.add_argument("--full", action="store_true", default=os.environ.get("CHAT_BENCH_FULL") == "1")
    parser.add_argument("--no-compression", action="store_true", help="do not offer permessage-deflate")
    parser.add_argument(
        "--log-pauses",
        type=float,
        metavar="MS",
        help="servers log garbage collections over MS milliseconds; each scenario's usage lists them",
    )
    args = parser.parse_args(argv)
    chosen = [s for s in ORDER if s != "soak" or args.full]
    if args.only:
        wanted = {s.strip() for s in args.only.split(",") if s.strip()}
        unknown = wanted - set(ORDER)
        if unknown:
            parser.error(f"unknown scenarios: {', '.join(sorted(unknown))} (choose from {', '.join(ORDER)})")
        chosen = [s for s in ORDER if s in wanted]
    args.scenarios = chosen
    return args


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


async def run(args: argparse.Namespace) -> dict:
    """Start what the chosen scenarios need, run them in order, and stop everything."""
    sizes = SIZES["full" if args.full else "default"]
    wsload.COMPRESSION = None if args.no_compression else "deflate"
    procs.PAUSE_LOG_MS = args.log_pauses
    # On the disk of the stacks' data directories, which are made in the same temporary directory.
    disk_dir = tempfile.mkdtemp(prefix="chat-bench-disk-")
    procs.DISK = DiskWatch(disk_dir).start()
    stack = floor = None
    results: dict = {}
    try:
        if NEEDS_STACK & set(args.scenarios):
            log("starting backend.py and MainWServer.py")
            stack = Stack().start()
            started = time.perf_counter()
            users = await stack.sign_up(sizes["users"])
            log(f"signed up {len(users)} users in {time.perf_counter() - started:.1f} s")
        else:
            users = []
        if {"1", "7"} & set(args.scenarios):
            floor = Server("floor", ["-m", "bench.floor", "--port", "0"])
        ctx = Context(stack=stack, users=users, sizes=sizes, floor=floor, results=results)
        for key in args.scenarios:
            if key in OWN_STACK and stack is not None:
                stack.stop()  # these run their own stacks; free the cores and memory first
                stack = None
            log(f"scenario {key}")
            started = time.perf_counter()
            try:
                runner = OWN_STACK.get(key) or RUNNERS[key]

                def watched(stack=stack):
                    # Read at each check: a scenario may restart a server (capacity restarts the front).
                    return [s for s in (floor, *(stack.servers().values() if stack else ())) if s]

                size = sizes.get(f"s{key}") or sizes.get(key) or {}
                cap = size.get("cap_s") or CAP_S[args.full] + size.get("duration", 0)
                results[key] = await guarded(runner(ctx), watched, cap)
            except Exception as error:  # one failed scenario must not hide the others' figures
                traceback.print_exc()
                results[key] = {"error": f"{type(error).__name__}: {error}"[:500]}
            log(f"scenario {key} took {time.perf_counter() - started:.1f} s")
            if stack is not None and any(s.proc.poll() is not None for s in stack.servers().values()):
                log("a server of the stack exited; starting a fresh stack for the next scenarios")
                stack.stop()
                stack = Stack().start()
                await stack.sign_up(sizes["users"])
                ctx.stack = stack
    finally:
        for server in (floor, stack):
            if server is not None:
                server.stop()
        procs.DISK.stop()
        os.rmdir(disk_dir)
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the Markdown report; exit 0 even when targets are missed."""
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so every server this run started is stopped on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    nofile = raise_nofile()
    begun = datetime.now(UTC)
    command = "python -m bench" + (" " + " ".join(sys.argv[1:]) if len(sys.argv) > 1 else "")
    if args.full:
        command = "CHAT_BENCH_FULL=1 " + command
    meta = {
        "command": command,
        "date": begun.strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _commit(),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "mode": "full" if args.full else "default",
        "compression": "none" if args.no_compression else "permessage-deflate offered",
        "open_files_limit": nofile,
    }
    try:
        results = asyncio.run(run(args))
    except KeyboardInterrupt:
        log("interrupted; the servers were stopped")
        return 130
    meta["duration_s"] = round((datetime.now(UTC) - begun).total_seconds(), 1)
    negotiated = {
        r.get("extensions") for r in results.values() if isinstance(r, dict) and r.get("extensions")
    }
    meta["compression"] += f", negotiated: {', '.join(sorted(negotiated)) or 'n/a'}"
    path = write({"meta": meta, "results": results}, begun.strftime("%Y%m%dT%H%M%SZ"))
    print(f"## Benchmark: `{meta['command']}`\n")
    print(
        f"{meta['date']}, commit {meta['commit']}, {meta['nproc']} cores (`nproc`), Python {meta['python']}, "
        f"{meta['mode']} sizes, WebSocket compression: {meta['compression']}, "
        f"run took {meta['duration_s']} s.\n"
    )
    print(table(results) + "\n")
    print("CPU as percent of one core over each measured window; RSS in MiB at its end.\n")
    print(usage_table(results) + "\n")
    print(f"Full results: `{path}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())

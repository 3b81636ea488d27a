"""``python -m bench.indexcost``: the backend's CPU per message, and how soon a search finds it.

Messages are posted straight to the backend, 10 ms apart, as the front server relays them (its
long-poll of the feed is served meanwhile); the backend worker's CPU over them, divided by their
number, is what a message costs with everything it sets off: the append, the feed, the search
index; the search index's thread (found with py-spy, a development requirement) is also shown on
its own. Then each of a few messages is searched for by its own word right after its
acknowledgement, as its sender may. docs/storage.md ("Lag") compares the figures with the index
lingering for more events before it commits and without.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from urllib.parse import urlencode, urlsplit

import orjson
import urllib3

from bench.procs import INTERNAL_SECRET
from bench.stack import Stack
from bench.stats import percentiles
from common.secret import HEADER

GAP_S = 0.01  # between two messages: 100 a second, from one sender


class Backend:
    """One kept-alive connection to the backend, calling as the holder of ``token``."""

    def __init__(self, url: str, token: str, room: str):
        address = urlsplit(url)
        self.pool = urllib3.HTTPConnectionPool(address.hostname, address.port, maxsize=1)
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            HEADER: INTERNAL_SECRET,
        }
        self.room = room

    def post(self, text: str) -> None:
        body = orjson.dumps({"text": text, "client_id": f"ic-{os.urandom(6).hex()}"})
        path = f"/api/rooms/{self.room}/messages"
        answer = self.pool.urlopen("POST", path, body=body, headers=self.headers)
        if answer.status != 201:
            raise RuntimeError(f"the backend answered {answer.status}: {answer.data[:200]!r}")

    def found(self, word: str) -> bool:
        answer = self.pool.urlopen("GET", "/api/search?" + urlencode({"q": word}), headers=self.headers)
        body = orjson.loads(answer.data)
        return answer.status == 200 and not body["partial"] and len(body["results"]) == 1


def index_thread(worker) -> int:
    """The native id of the worker's ``search-index`` thread, as ``py-spy dump`` names it."""
    py_spy = os.path.join(os.path.dirname(sys.executable), "py-spy")
    command = [py_spy, "dump", "--pid", str(worker.pid)]
    dump = subprocess.run(command, capture_output=True, text=True, check=True)
    for line in dump.stdout.splitlines():
        if line.startswith("Thread ") and line.endswith('"search-index"'):
            return int(line.split()[1])
    raise RuntimeError("no search-index thread in the backend's worker")


def thread_cpu(worker, thread: int) -> float:
    """CPU seconds of one of the worker's threads so far (to the nanosecond: the scheduler's count)."""
    with open(f"/proc/{worker.pid}/task/{thread}/schedstat") as stats:
        return int(stats.read().split()[0]) / 1e9


def cpu_ms_per_message(backend: Backend, worker, thread: int, count: int) -> tuple[float, float]:
    """Post ``count`` messages ``GAP_S`` apart; the worker's and the index thread's CPU ms a message."""
    before, before_thread = worker.cpu_times(), thread_cpu(worker, thread)
    for number in range(count):
        backend.post(f"index cost probe {number}")
        time.sleep(GAP_S)
    after, after_thread = worker.cpu_times(), thread_cpu(worker, thread)
    total = after.user + after.system - before.user - before.system
    return total / count * 1000, (after_thread - before_thread) / count * 1000


def search_after_send(backend: Backend, count: int) -> tuple[list[int], int]:
    """Post ``count`` messages, each searched for by its own word after its acknowledgement."""
    took, missed = [], 0
    for number in range(count):
        word = f"unique{number}x{os.urandom(3).hex()}"
        backend.post(f"sent then searched {word}")
        started = time.perf_counter_ns()
        missed += not backend.found(word)
        took.append(time.perf_counter_ns() - started)
        time.sleep(GAP_S)
    return took, missed


async def measure(messages: int, rounds: int, searches: int) -> dict:
    """On a fresh stack: the CPU figures of ``rounds`` rounds, then the searches after a send."""
    stack = Stack().start()
    try:
        users = await stack.sign_up(2, prefix="cost")
        room = await stack.create_room("cost", users)
        backend = Backend(stack.backend.url, stack.cookies[users[0]].split("=", 1)[1], room)
        try:
            worker = stack.backend.processes()[-1]
            thread = index_thread(worker)
            cpu_ms_per_message(backend, worker, thread, 50)  # warm up
            costs = [cpu_ms_per_message(backend, worker, thread, messages) for _ in range(rounds)]
            took, missed = search_after_send(backend, searches)
        finally:
            backend.pool.close()
    finally:
        stack.stop()
    return {
        "cpu_ms_per_message": [round(cost, 3) for cost, _ in costs],
        "median": round(statistics.median(cost for cost, _ in costs), 3),
        "index_thread_ms_per_message": [round(cost, 4) for _, cost in costs],
        "search_after_send": percentiles(took),
        "not_found": missed,
        "load": round(os.getloadavg()[0], 2),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500, help="messages in each round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of measured messages")
    parser.add_argument("--searches", type=int, default=100, help="messages searched for after sending")
    options = parser.parse_args()
    print(orjson.dumps(asyncio.run(measure(options.messages, options.rounds, options.searches))).decode())

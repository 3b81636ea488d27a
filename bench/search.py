"""Scenario 9: search through the front server over rooms of 1,000, 50,000 and 1,000,000 messages.

Each size gets a data directory made like scenario 5's (the real backend writes the user, the room
and a first message; the rest is appended in the backend's own record shape), with texts of ten
words drawn from a vocabulary of 20,000 made-up words by a Zipf law, so words are common or rare
as in real chat. A fresh backend then starts on it with no index: the figures are the time it
takes to rebuild the index while serving (until searches stop saying ``partial``), the backend's
memory meanwhile, the acknowledgement p50 while the rebuild runs (the largest size), the index's
size on disk, and the latency of two-word queries (a whole word, then a word as typed: the last
word is also a prefix) in every room and in one room. On the largest size it then measures how
long a message just acknowledged takes to be found, while messages are sent at 50 a second.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import shutil
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from bench import history
from bench.http import HttpClient
from bench.procs import Server, log
from bench.scenarios import Context
from bench.stack import NO_LIMITS, PASSWORD, Stack
from bench.stats import percentiles

VOCABULARY = 20_000
WORDS_PER_MESSAGE = 10


def vocabulary(seed: int = 8) -> tuple[list[str], list[float]]:
    """Made-up words and their Zipf weights (the nth word is used about 1/n as often as the first)."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = sorted({"".join(rng.choices(letters, k=rng.randint(4, 9))) for _ in range(VOCABULARY + 500)})
    rng.shuffle(words)
    words = words[:VOCABULARY]
    return words, [1 / (rank + 1) for rank in range(len(words))]


def texts(seed: int = 8):
    """A function of a message's number giving its text (all ``WORDS_PER_MESSAGE`` words)."""
    words, weights = vocabulary(seed)
    cumulative = list(itertools.accumulate(weights))  # once: choices() would sum 20,000 weights a call
    rng = random.Random(seed + 1)

    def text(_number: int) -> str:
        return " ".join(rng.choices(words, cum_weights=cumulative, k=WORDS_PER_MESSAGE))

    return text


async def scenario_9(ctx: Context) -> dict:
    """Every size in turn, then the lag of a message just sent on the largest."""
    size = ctx.sizes["s9"]
    counts = size["messages"]
    results = {}
    for count in counts:
        log(f"scenario 9: {count:,} messages")
        results[str(count)] = await _one_size(
            count, size["queries"], lag=size["lag"] if count == counts[-1] else 0
        )
    small, big = results[str(counts[0])], results[str(counts[-1])]
    if len(counts) > 2:
        middle = results[str(counts[1])]
        results["ratio_50k_to_1k_p50"] = round(middle["words"]["p50_ms"] / small["words"]["p50_ms"], 2)
    results["largest"] = counts[-1]
    results["p50_ms"], results["p99_ms"] = big["words"]["p50_ms"], big["words"]["p99_ms"]
    return results


async def _one_size(count: int, queries: int, lag: int) -> dict:
    data_dir = Path(tempfile.mkdtemp(prefix="chat-bench-search-"))
    try:
        room, write_s, file_mib = await history._build(data_dir, count, text=texts())
        (data_dir / "search.sqlite3").unlink(missing_ok=True)  # the start-up below rebuilds it
        stack = Stack(data_dir)
        stack.backend = Server(
            "backend", ["backend.py", "--port", "0", "--data-dir", str(data_dir), *NO_LIMITS], timeout=600
        )
        stack.front = Server("front", ["MainWServer.py", "--port", "0", "--backend", stack.backend.url])
        try:
            client = HttpClient(stack.url)
            await client.json(
                "POST", "/api/session", {"username": f"{history.USER}00000", "password": PASSWORD}
            )
            rebuild = await _rebuild(stack, client, room, with_acks=lag > 0)
            index = data_dir / "search.sqlite3"
            index_bytes = sum(p.stat().st_size for p in data_dir.glob("search.sqlite3*"))
            result = {
                "messages": count,
                "events_file_mib": file_mib,
                "write_s": write_s,
                **rebuild,
                "index_mib": round(index_bytes / 2**20, 1),
                "index_bytes_per_message": round(index_bytes / count, 1),
                "index_file": index.name,
            }
            log(f"scenario 9: {count:,} messages: {result}")
            result.update(await _queries(client, room, queries))
            log(f"scenario 9: queries: { {k: result[k] for k in ('words', 'typed', 'words_in_room')} }")
            if lag:
                result["just_sent"] = await _just_sent(client, room, lag)
            result["backend_rss_after_mib"] = round(stack.backend.rss() / 2**20, 1)
            await client.close()
        finally:
            stack.stop()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return result


async def _rebuild(stack: Stack, client: HttpClient, room: str, with_acks: bool) -> dict:
    """Time the rebuild from the backend's first answer; sample its memory; post meanwhile."""
    started = time.perf_counter()
    peak, acks, polls = 0, [], 0
    while True:
        peak = max(peak, stack.backend.rss())
        body = await client.json("GET", "/api/search?q=zzzz")
        polls += 1
        if not body["partial"]:
            break
        if with_acks:
            sent = time.perf_counter_ns()
            await client.json(
                "POST",
                f"/api/rooms/{room}/messages",
                {"text": "during the rebuild", "client_id": f"r{polls}"},
            )
            acks.append(time.perf_counter_ns() - sent)
        await asyncio.sleep(0.1)
    out = {
        "rebuild_s": round(time.perf_counter() - started, 2),
        "backend_rss_peak_mib": round(peak / 2**20, 1),
    }
    if with_acks:
        out["ack_during_rebuild"] = percentiles(acks)
        idle = []
        for i in range(len(acks) or 1):
            sent = time.perf_counter_ns()
            await client.json(
                "POST", f"/api/rooms/{room}/messages", {"text": "after it", "client_id": f"a{i}"}
            )
            idle.append(time.perf_counter_ns() - sent)
        out["ack_after_rebuild"] = percentiles(idle)
    return out


async def _queries(client: HttpClient, room: str, count: int) -> dict:
    """Two-word queries: whole words, then the second cut to 3 letters; everywhere, then in the room."""
    words, _ = vocabulary()
    rng = random.Random(80)
    pairs = [(rng.choice(words[20:2000]), rng.choice(words[20:2000])) for _ in range(count)]
    out = {}
    for name, make, extra in (
        ("words", lambda a, b: f"{a} {b}", {}),
        ("typed", lambda a, b: f"{a} {b[:3]}", {}),
        ("words_in_room", lambda a, b: f"{a} {b}", {"room": room}),
    ):
        samples, found = [], 0
        for a, b in pairs:
            path = "/api/search?" + urlencode({"q": make(a, b), **extra})
            sent = time.perf_counter_ns()
            body = await client.json("GET", path)
            samples.append(time.perf_counter_ns() - sent)
            found += len(body["results"])
        out[name] = {**percentiles(samples), "results_per_query": round(found / len(pairs), 1)}
    return out


async def _just_sent(client: HttpClient, room: str, count: int) -> dict:
    """Send at 50 a second; after each acknowledgement search for its unique word at once."""
    sender = HttpClient(client_url(client), client.cookie)
    search_ns, missed = [], 0
    started = time.perf_counter()
    for i in range(count):
        word = f"justsent{i}x{random.randrange(10**9)}"
        await sender.json(
            "POST", f"/api/rooms/{room}/messages", {"text": f"{word} hello", "client_id": f"j{i}"}
        )
        sent = time.perf_counter_ns()
        body = await client.json("GET", "/api/search?" + urlencode({"q": word}))
        search_ns.append(time.perf_counter_ns() - sent)
        missed += not body["results"]
        await asyncio.sleep(max(0, started + (i + 1) / 50 - time.perf_counter()))
    await sender.close()
    return {
        "messages": count,
        "rate_per_s": 50,
        "search_after_ack": percentiles(search_ns),
        "not_found": missed,
    }


def client_url(client: HttpClient) -> str:
    """The base address a client talks to."""
    return f"http://{client.host}:{client.port}"

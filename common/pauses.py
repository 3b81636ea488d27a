"""The garbage collector of a long-running server, and an optional log of its pauses.

A full (generation 2) collection walks every tracked object. After start-up most of them live
for the life of the process (the backend's indexes, the modules, the app), so walking them again
and again only stops delivery: a probe during the fan-out benchmark saw gen-2 collections pause
the front server 21 to 36 ms and the backend 15 to 17 ms (docs/benchmark.md). :func:`settle`
moves what start-up made into the permanent generation, which collections skip (``gc.freeze``,
as Instagram's servers do), so later collections walk only what was made since, and it makes
full collections ten times rarer than CPython's default (:data:`FULL_COLLECTION_EVERY`). The
front server goes further (:func:`collect_fully_when_idle`): its full collections run at the
gevent loop's turn and freeze what they keep, so that 10,000 open WebSockets are not walked again
at each one.

``CHAT_LOG_PAUSES_MS=N`` in a server's environment logs every collection longer than N ms on
stderr, as ``pause: gc gen=G ms=T collected=C``: the tool to look for stalls with, together
with gevent's own ``GEVENT_MONITOR_THREAD_ENABLE=1 GEVENT_MAX_BLOCKING_TIME=0.02`` for a
greenlet that blocks the loop.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Callable

LOG_PAUSES_VARIABLE = "CHAT_LOG_PAUSES_MS"


# Collections of the middle generation between two full ones (CPython's default is 10). What a
# server makes after start-up is long-lived too (a connection's state lives as long as the socket),
# and a full collection walks all of it: with 1,000 WebSockets open, the crowd benchmark saw six or
# seven full collections of 38 to 55 ms in 10 s, each finding nothing or almost nothing to free;
# with 100, none (docs/benchmark.md). Reference counting frees all but cycles at once, and the few
# cycles wait a little longer. The backend's; the front server's are collect_fully_when_idle's.
FULL_COLLECTION_EVERY = 100


# Collections of the middle generation between two full ones run at the loop's turn
# (collect_fully_when_idle). Such a collection walks only what was kept since the last one, so the
# more often, the shorter each: while scenario 3 opened 10,000 WebSockets, full collections took
# 5.4 to 12.2 ms every 10 middle ones and 1.1 to 2.7 ms every 2 (docs/benchmark.md).
FULL_COLLECTION_EVERY_FROZEN = 2

# A threshold of middle-generation collections CPython never reaches: it starts no full collection.
NEVER = 2**31 - 1


def settle() -> None:
    """Collect once, exempt every object alive now from later collections, and make full
    collections rare."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


def collect_fully_when_idle(call_soon: Callable[[Callable[[], None]], object]) -> None:
    """Run full collections only at ``call_soon`` (the gevent loop's next turn, in the front
    server), and exempt their survivors from later ones, so that each walks only what was made
    since the last, not every open connection again.

    A full collection walks every tracked object outside the permanent generation, at about half a
    microsecond each on this machine: with 10,000 WebSockets open, 150 ms in which the front
    server delivers nothing (docs/benchmark.md). A connection lives for minutes or hours and is
    freed by reference counting when it closes, so walking it again and again finds nothing.

    CPython's own full collections are turned off. Every :data:`FULL_COLLECTION_EVERY_FROZEN`
    middle-generation collections, one is asked of ``call_soon`` instead: there every greenlet is
    parked at a wait, none half-way through building something it drops at once (werkzeug's
    routing makes a reference cycle per request), so what the collection keeps is alive for a
    reason, and :func:`gc.freeze` moves it to the permanent generation. Frozen objects are still
    freed when their last reference goes; only a reference cycle among them would stay for good,
    and a closed WebSocket or a relayed message leaves none (tests/test_pauses.py).
    """
    middle_collections = 0
    asked = False

    def collect_and_freeze() -> None:
        nonlocal asked
        gc.collect()
        gc.freeze()
        asked = False

    def after(phase: str, info: dict) -> None:
        nonlocal middle_collections, asked
        if phase == "stop" and info["generation"] == 1:
            middle_collections += 1
            if middle_collections >= FULL_COLLECTION_EVERY_FROZEN and not asked:
                middle_collections, asked = 0, True
                call_soon(collect_and_freeze)

    gc.callbacks.append(after)
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, NEVER)


def log_pauses_from_environment() -> None:
    """Install the pause log when ``CHAT_LOG_PAUSES_MS`` is set to a number of milliseconds."""
    text = os.environ.get(LOG_PAUSES_VARIABLE)
    if not text:
        return
    try:
        threshold = float(text) / 1000
    except ValueError:
        print(f"{LOG_PAUSES_VARIABLE}={text!r} is not a number of milliseconds; not logging", file=sys.stderr)
        return
    started: list[float] = []

    def timer(phase: str, info: dict) -> None:
        if phase == "start":
            started[:] = [time.perf_counter()]
        elif started:
            took = time.perf_counter() - started[0]
            if took >= threshold:
                print(
                    f"pause: gc gen={info['generation']} ms={took * 1000:.1f} collected={info['collected']}",
                    file=sys.stderr,
                    flush=True,
                )

    gc.callbacks.append(timer)

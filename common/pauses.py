"""The garbage collector of a long-running server, and an optional log of its pauses.

A full (generation 2) collection walks every tracked object. After start-up most of them live
for the life of the process (the backend's indexes, the modules, the app), so walking them again
and again only stops delivery: a probe during the fan-out benchmark saw gen-2 collections pause
the front server 21 to 36 ms and the backend 15 to 17 ms (docs/benchmark.md). :func:`settle`
moves what start-up made into the permanent generation, which collections skip (``gc.freeze``,
as Instagram's servers do), so later collections walk only what was made since, and it makes
full collections ten times rarer than CPython's default (:data:`FULL_COLLECTION_EVERY`).

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

LOG_PAUSES_VARIABLE = "CHAT_LOG_PAUSES_MS"


# Collections of the middle generation between two full ones (CPython's default is 10). What a
# server makes after start-up is long-lived too (a connection's state lives as long as the socket),
# and a full collection walks all of it: with 1,000 WebSockets open, the crowd benchmark saw six or
# seven full collections of 38 to 55 ms in 10 s, each finding nothing or almost nothing to free;
# with 100, none (docs/benchmark.md). Reference counting frees all but cycles at once, and the few
# cycles wait a little longer.
FULL_COLLECTION_EVERY = 100


def settle() -> None:
    """Collect once, exempt every object alive now from later collections, and make full
    collections rare."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


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

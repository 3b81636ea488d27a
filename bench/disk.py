"""The data directory's disk, timed: a chat message's worth of bytes appended and fsynced.

The backend acknowledges and broadcasts a message only once its append is fsynced
(docs/storage.md), so a flush of the disk that takes 100 ms holds every message stored meanwhile,
and the floor relay, which stores nothing, never meets it. Scenario 4 times such fsyncs one after
another, alone (:func:`fsync_times`); while ``python -m bench`` runs, a :class:`DiskWatch` goes on
beside every scenario, and each measured run reports the slowest fsync it saw
(:class:`bench.procs.Meter`), so a stalled run shows whether the disk stalled with it.
"""

from __future__ import annotations

import os
import threading
import time
from array import array

LINE = b"x" * 300 + b"\n"  # about a chat message's line
# A run whose disk watch saw no fsync slower than this ran on a calm disk: scenario 1's target
# for a whole round's p99.
CALM_DISK_MS = 25


def fsync_times(directory: str, count: int, gap_s: float) -> list[int]:
    """``count`` appends of :data:`LINE` to a scratch file in ``directory``, each fsynced: the
    fsyncs' times in ns, with ``gap_s`` between two so that each one is alone."""
    path = os.path.join(directory, "bench-fsync-probe")
    took = []
    with open(path, "ab", buffering=0) as out:
        for _ in range(count):
            out.write(LINE)
            started = time.perf_counter_ns()
            os.fsync(out.fileno())
            took.append(time.perf_counter_ns() - started)
            time.sleep(gap_s)
    os.unlink(path)
    return took


class DiskWatch:
    """A thread that appends :data:`LINE` to a scratch file in ``directory`` and fsyncs it every
    ``every_s`` until stopped, keeping when each fsync started and how long it took.

    Any fsync issued while the disk stalls waits for the stall's end, so one every 50 ms sees
    every stall longer than that.
    """

    def __init__(self, directory: str, every_s: float = 0.05):
        self._path = os.path.join(directory, "bench-disk-watch")
        self._every_s = every_s
        self._starts, self._took = array("q"), array("q")
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="disk-watch", daemon=True)

    def start(self) -> DiskWatch:
        """Begin watching; returns itself."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching and remove the scratch file."""
        self._stopping.set()
        self._thread.join()

    def slowest_ms(self, start_ns: int, end_ns: int) -> float | None:
        """The slowest fsync (ms) that ran at any time between two ``time.perf_counter_ns()``
        readings, or None if none did."""
        took = [
            took
            for started, took in zip(self._starts[: len(self._took)], self._took, strict=True)
            if started < end_ns and started + took > start_ns
        ]
        return round(max(took) / 1e6, 3) if took else None

    def _watch(self) -> None:
        with open(self._path, "ab", buffering=0) as out:
            while not self._stopping.wait(self._every_s):
                out.write(LINE)
                started = time.perf_counter_ns()
                self._starts.append(started)
                os.fsync(out.fileno())
                self._took.append(time.perf_counter_ns() - started)
        os.unlink(self._path)

"""Counting and summarising what the load generator saw: latencies and every delivery.

A :class:`Deliveries` ledger records each delivery a receiver got, keyed by (receiver, room, seq),
so a lost or duplicated delivery is counted and reported, never folded into an average.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter


def percentiles(samples_ns, points=(50, 90, 99)) -> dict:
    """Summarise latencies given in nanoseconds as milliseconds: count, p50/p90/p99 and max.

    Nearest-rank percentiles on the sorted samples; an empty input gives ``None`` figures so a
    scenario that received nothing shows as such instead of as zero latency.
    """
    data = sorted(samples_ns)
    out: dict = {"count": len(data)}
    for p in points:
        out[f"p{p}_ms"] = _ms(data[max(0, math.ceil(p / 100 * len(data)) - 1)]) if data else None
    out["max_ms"] = _ms(data[-1]) if data else None
    return out


def worst_second_p99(latency_ns, arrival_ns, *, min_samples: int = 100) -> float | None:
    """The highest p99 (ms) of any one-second window of arrivals holding ``min_samples`` or more.

    A run's p99 can hide one bad second among many good ones; this is the figure that shows a
    stall a user would notice as a message that hangs.
    """
    if not arrival_ns:
        return None
    start = min(arrival_ns)
    seconds: dict[int, list[int]] = {}
    for latency, arrival in zip(latency_ns, arrival_ns, strict=True):
        seconds.setdefault((arrival - start) // 1_000_000_000, []).append(latency)
    worst = [percentiles(v)["p99_ms"] for v in seconds.values() if len(v) >= min_samples]
    return max(worst) if worst else None


def _ms(ns: int) -> float:
    return round(ns / 1e6, 3)


class Deliveries:
    """Every message delivery of one run, per receiver, with the latency of each first delivery.

    ``expect`` is told each stored message (from its ack or any receiver's copy); ``lost`` then
    counts, for every receiver that was connected the whole run, the stored messages it never got.
    """

    def __init__(self) -> None:
        self.by_receiver: dict[int, set] = {}
        self.last_pos: dict[int, int] = {}
        self.stored: set = set()
        self.latency_ns = array("q")
        self.arrival_ns = array("q")  # when each latency sample arrived, for per-second figures
        self.duplicates = 0
        self.out_of_order = 0
        self.count = 0
        self.first_ns: int | None = None
        self.last_ns: int | None = None

    def add_receiver(self, receiver: int) -> None:
        """Register a receiver before the run so one that got nothing still counts as losing all."""
        self.by_receiver.setdefault(receiver, set())

    def record(self, receiver: int, room: str, seq: int, pos: int, sent_ns: int, now_ns: int) -> None:
        """Count one delivery of message (room, seq) to ``receiver`` arriving at ``now_ns``."""
        key = (room, seq)
        seen = self.by_receiver.setdefault(receiver, set())
        self.stored.add(key)
        if key in seen:
            self.duplicates += 1
            return
        seen.add(key)
        self.count += 1
        # pos must grow strictly on one connection; a step back means reordering or a replay.
        if pos <= self.last_pos.get(receiver, 0):
            self.out_of_order += 1
        self.last_pos[receiver] = pos
        if sent_ns:
            self.latency_ns.append(now_ns - sent_ns)
            self.arrival_ns.append(now_ns)
        if self.first_ns is None:
            self.first_ns = now_ns
        self.last_ns = now_ns

    def expect(self, room: str, seq: int) -> None:
        """Note a message the server stored (seen in an ack), whether or not anyone received it."""
        self.stored.add((room, seq))

    def lost(self) -> int:
        """Deliveries owed and never made: stored messages each receiver is missing."""
        return sum(len(self.stored - seen) for seen in self.by_receiver.values())

    def receivers_missing(self) -> int:
        """How many receivers missed at least one message."""
        return sum(1 for seen in self.by_receiver.values() if self.stored - seen)

    def expected(self) -> int:
        """Deliveries owed in all: stored messages times receivers."""
        return len(self.stored) * len(self.by_receiver)


class Acks:
    """Send-to-ack latency by ``client_id``, and sends that were never acknowledged."""

    def __init__(self) -> None:
        self.sent: dict[str, int] = {}
        self.latency_ns = array("q")
        self.acked: set[str] = set()
        self.extra = 0
        self.errors: Counter = Counter()

    def sending(self, client_id: str, now_ns: int) -> None:
        """Note the moment a send frame for ``client_id`` went out."""
        self.sent[client_id] = now_ns

    def ack(self, client_id: str, now_ns: int) -> None:
        """Note an ack; a second ack for the same id counts as extra, not as a new latency."""
        if client_id in self.acked or client_id not in self.sent:
            self.extra += 1
            return
        self.acked.add(client_id)
        self.latency_ns.append(now_ns - self.sent[client_id])

    def unacked(self) -> int:
        """Sends with no ack at all."""
        return len(self.sent) - len(self.acked)

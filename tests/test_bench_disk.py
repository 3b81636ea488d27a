"""The benchmark's disk timings: the fsyncs scenario 4 times alone, the disk watch that every
measured run reports from, and scenario 1's rounds on a calm disk."""

from __future__ import annotations

import time

from bench import procs
from bench.disk import DiskWatch, fsync_times
from bench.procs import Meter
from bench.scenarios import tails


def test_fsync_times_times_each_append_and_leaves_no_file(tmp_path):
    took = fsync_times(str(tmp_path), 5, 0.001)

    assert len(took) == 5
    assert all(ns > 0 for ns in took)
    assert list(tmp_path.iterdir()) == []


def test_the_disk_watch_reports_the_slowest_fsync_that_overlapped_a_window(tmp_path):
    before = time.perf_counter_ns()
    watch = DiskWatch(str(tmp_path), every_s=0.01).start()
    time.sleep(0.3)
    middle = time.perf_counter_ns()
    time.sleep(0.3)
    watch.stop()
    after = time.perf_counter_ns()

    whole = watch.slowest_ms(before, after)
    assert whole is not None and whole > 0
    halves = [watch.slowest_ms(before, middle), watch.slowest_ms(middle, after)]
    assert all(half is not None for half in halves)
    assert max(halves) == whole
    assert watch.slowest_ms(after, after + 10**9) is None
    assert watch.slowest_ms(before - 10**9, before) is None
    assert list(tmp_path.iterdir()) == []


def test_a_measured_run_reports_the_slowest_fsync_of_the_disk_watch(tmp_path, monkeypatch):
    watch = DiskWatch(str(tmp_path), every_s=0.01).start()
    try:
        monkeypatch.setattr(procs, "DISK", watch)
        meter = Meter({})
        time.sleep(0.2)
        usage = meter.result()
    finally:
        watch.stop()

    assert usage["disk_slowest_fsync_ms"] > 0


def test_without_a_disk_watch_a_measured_run_has_no_disk_figure(monkeypatch):
    monkeypatch.setattr(procs, "DISK", None)

    assert "disk_slowest_fsync_ms" not in Meter({}).result()


def _round(ours_p99: float, floor_p99: float, disk_ms: float | None) -> dict:
    return {
        "ours": {"latency": {"p99_ms": ours_p99}, "usage": {"disk_slowest_fsync_ms": disk_ms}},
        "floor": {"latency": {"p99_ms": floor_p99}, "usage": {"disk_slowest_fsync_ms": disk_ms}},
    }


def test_scenario_1_sets_the_rounds_on_a_calm_disk_beside_all_of_them():
    rounds = [_round(8.0, 6.0, 3.0), _round(240.0, 7.0, 300.0), _round(9.0, 5.0, 12.0)]

    figures = tails(rounds)

    assert (figures["worst_p99_ms"], figures["floor_worst_p99_ms"]) == (240.0, 7.0)
    assert figures["worst_ratio"] == 34.29
    assert figures["calm_disk_rounds"] == 2
    assert (figures["calm_disk_worst_p99_ms"], figures["calm_disk_worst_ratio"]) == (9.0, 1.29)


def test_without_a_calm_round_scenario_1_says_so():
    figures = tails([_round(240.0, 7.0, 300.0)])

    assert figures["calm_disk_rounds"] == 0
    assert figures["calm_disk_worst_p99_ms"] is None and figures["calm_disk_worst_ratio"] is None

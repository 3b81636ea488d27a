"""The benchmark's disk timings: the fsyncs scenario 4 times alone and scenario 1's disk watch."""

from __future__ import annotations

import time

from bench.disk import DiskWatch, fsync_times


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

"""The servers' garbage-collector settings and the pause log (common/pauses.py)."""

from __future__ import annotations

import subprocess
import sys

from common import pauses
from tests.live_procs import REPO, clean_env

SCRIPT = """
import gc
from common import pauses
pauses.log_pauses_from_environment()
garbage = [[i] for i in range(100_000)]
pauses.settle()
print("frozen", gc.get_freeze_count() >= 100_000, flush=True)
print("full collections every", gc.get_threshold()[2], flush=True)
gc.collect()
"""


def run(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settle_exempts_what_start_up_made_and_the_log_shows_each_collection():
    result = run({"CHAT_LOG_PAUSES_MS": "0"})
    assert result.returncode == 0, result.stderr
    assert "frozen True" in result.stdout
    assert f"full collections every {pauses.FULL_COLLECTION_EVERY}" in result.stdout
    lines = result.stderr.splitlines()
    assert lines, "a threshold of 0 logs every collection"
    assert all(line.startswith("pause: gc gen=") and " ms=" in line for line in lines), lines


def test_no_log_unless_asked_and_a_bad_threshold_is_said_once():
    assert run({}).stderr == ""
    bad = run({"CHAT_LOG_PAUSES_MS": "soon"}).stderr.splitlines()
    assert bad == ["CHAT_LOG_PAUSES_MS='soon' is not a number of milliseconds; not logging"]

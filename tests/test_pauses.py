"""The servers' garbage-collector settings and the pause log (common/pauses.py)."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pytest

from common import pauses
from tests.live_http import make_room
from tests.live_procs import REPO, clean_env
from tests.timing import wait_for
from tests.ws_client import Client

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


IDLE_SCRIPT = """
import gc
from common import pauses
gc.disable()  # only the collections below count
asked = []
pauses.collect_fully_when_idle(asked.append)
print("cpython full collections", gc.get_threshold()[2] == pauses.NEVER, flush=True)
kept = [[i] for i in range(50_000)]
for _ in range(pauses.FULL_COLLECTION_EVERY_FROZEN - 1):
    gc.collect(1)
print("asked before", len(asked), flush=True)
cycle = []
cycle.append(cycle)
del cycle
gc.collect(1)
print("asked after", len(asked), flush=True)
frozen = gc.get_freeze_count()
asked.pop()()
print("cycle collected", not any(type(o) is list and o and o[0] is o for o in gc.get_objects()), flush=True)
print("survivors frozen", gc.get_freeze_count() - frozen >= 50_000, flush=True)
"""


def test_full_collections_wait_for_the_loop_and_freeze_what_they_keep():
    result = subprocess.run(
        [sys.executable, "-c", IDLE_SCRIPT],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "cpython full collections True",
        "asked before 0",
        "asked after 1",
        "cycle collected True",
        "survivors frozen True",
    ]


# Loaded into the front server (sitecustomize, on PYTHONPATH); in its worker, each trigger file
# ("<path>.freeze", "<path>.leaks") makes it act and write "<trigger>.done".
PROBE = """
import os

def _probe():
    import gc, time
    import gevent
    path = os.environ["CHAT_TEST_GC_PROBE"]
    CONNECTION = ("Reader", "Wire")  # what an open WebSocket holds

    def when(trigger):
        while not os.path.exists(trigger):
            time.sleep(0.05)

    def run():
        when(path + ".freeze")
        # Middle-generation collections until the front server asks for its full one, which runs
        # at the loop's next turn (a sleep here yields to it) and freezes what is alive.
        frozen = gc.get_freeze_count()
        while gc.get_freeze_count() == frozen:
            gc.collect(1)
            time.sleep(0.01)
        open(path + ".freeze.done", "w").close()
        when(path + ".leaks")
        gc.collect()  # what is garbage now, without any freezing
        gc.unfreeze()
        gc.set_debug(gc.DEBUG_SAVEALL)  # from here on garbage is kept to be named, not freed
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until the closed connections' last objects are gone
            gc.collect()
            if not [o for o in gc.get_objects() if type(o).__name__ in CONNECTION]:
                break
            time.sleep(0.1)
        # What freezing would have kept for good, and any connection still alive.
        kinds = {type(o).__module__ + "." + type(o).__qualname__ for o in gc.garbage}
        kinds |= {"alive: " + type(o).__name__ for o in gc.get_objects() if type(o).__name__ in CONNECTION}
        kinds = sorted(kinds)
        with open(path + ".leaks.done", "w") as out:
            out.write("\\n".join(kinds))

    gevent.spawn(run)  # the worker is gevent's: a greenlet, and its sleeps let the loop run

os.register_at_fork(after_in_child=_probe)
"""


@pytest.mark.live
def test_connections_and_messages_frozen_while_open_leave_nothing_behind(
    start_backend, start_front, http_user, tmp_path
):
    """What the front server freezes (collect_fully_when_idle) is freed by reference counting alone:
    WebSockets open and in use, and a long-poll waiting, when a full collection froze them, then
    closed and answered, leave no reference cycle that a collection of everything, frozen or not,
    would find."""
    (tmp_path / "sitecustomize.py").write_text(PROBE)
    probe = tmp_path / "probe"
    front = start_front(start_backend(), env={"PYTHONPATH": str(tmp_path), "CHAT_TEST_GC_PROBE": str(probe)})
    users = [http_user(f"gc{n}", url=front.url) for n in range(4)]
    room = make_room(users[0], users[1:])
    poller = http_user("gcpoll", url=front.url)
    after = poller.get(f"{front.url}/api/events", timeout=10).json()["pos"]
    with ExitStack() as stack, ThreadPoolExecutor(1) as pool:
        clients = [Client(stack, user, url=front.url) for user in users for _ in range(5)]
        for n, client in enumerate(clients):
            client.send({"type": "send", "room": room, "text": f"before {n}", "client_id": f"b{n}"})
            client.until(lambda frame: frame["type"] == "ack")
        query = {"after": after, "wait": 20}
        poll = pool.submit(poller.get, f"{front.url}/api/events", params=query, timeout=30)
        _signal(probe, ".freeze")
        for n, client in enumerate(clients):
            client.send({"type": "send", "room": room, "text": f"after {n}", "client_id": f"a{n}"})
            client.until(lambda frame: frame["type"] == "ack")
        make_room(users[0], [poller])  # an event for the poller, which ends its wait
        assert poll.result().status_code == 200
    leaks = _signal(probe, ".leaks").read_text().splitlines()
    assert leaks == [], leaks


def _signal(probe: Path, name: str) -> Path:
    (probe.parent / (probe.name + name)).touch()
    done = probe.parent / (probe.name + name + ".done")
    assert wait_for(done.exists, 20), f"the front server's probe did not answer {name}"
    return done

"""Files yield to the chat: the pacer's rule (webserver/file_pacing.py) on a clock the test moves,
and the front server's files moving at its pace, over a real backend."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from live_procs import INTERNAL_SECRET
from werkzeug.serving import make_server

import webserver
from webserver.file_pacing import CONTROL_INTERVAL, MIN_RATE, TARGET_DELAY, FilePacer

MIB = 1024 * 1024


class Clock:
    """Seconds that pass only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def window(pacer: FilePacer, clock: Clock, *, store: float, floor: float = 0.002) -> None:
    """One control interval in which messages took ``floor`` and then ``store`` seconds to store,
    while a file moved; the next piece starts the next interval."""
    pacer.observe(floor)
    pacer.delay(MIB)
    pacer.observe(store)
    clock.now += CONTROL_INTERVAL
    pacer.delay(MIB)


def test_files_are_unpaced_while_nobody_waits_for_them():
    clock = Clock()
    pacer = FilePacer(clock)
    for _ in range(50):
        window(pacer, clock, store=0.002 + TARGET_DELAY)  # the chat stores within its target
    assert pacer.rate is None
    assert pacer.delay(MIB) == 0


def test_a_slow_store_slows_the_files_at_once_in_proportion():
    clock = Clock()
    pacer = FilePacer(clock)
    pacer.observe(0.002)
    pacer.observe(0.002 + 2 * TARGET_DELAY)
    assert pacer.rate == MIN_RATE  # files that ran unpaced start again from the least rate
    for _ in range(40):
        window(pacer, clock, store=0.002)
    climbed = pacer.rate
    assert climbed > 40 * MIN_RATE
    pacer.observe(0.002 + 2 * TARGET_DELAY)
    assert pacer.rate == pytest.approx(climbed / 2)  # twice the target: halved
    pacer.observe(0.002 + 8 * TARGET_DELAY)
    assert pacer.rate == pytest.approx(climbed / 2)  # the same queue draining: one cut a window
    clock.now += CONTROL_INTERVAL
    pacer.observe(0.002 + 8 * TARGET_DELAY)
    assert pacer.rate == pytest.approx(climbed / 16)  # eight times the target: an eighth
    for _ in range(20):
        window(pacer, clock, store=1.0)
    assert pacer.rate == MIN_RATE  # files still move, however slow the chat


def test_under_the_target_the_pace_climbs_back_until_files_are_unpaced():
    clock = Clock()
    pacer = FilePacer(clock)
    window(pacer, clock, store=0.5)
    rates = []
    while pacer.rate is not None and len(rates) < 1000:
        window(pacer, clock, store=0.002 + TARGET_DELAY / 2)
        rates.append(pacer.rate)
    assert rates[-1] is None, "the files stayed paced with the chat well within its target"
    climbing = rates[:-1]
    assert climbing == sorted(climbing) and climbing[0] > MIN_RATE
    assert len(climbing) > 100  # a slow climb: seconds, not one jump


def test_a_backend_slower_for_good_is_a_new_floor_not_a_queue():
    clock = Clock()
    pacer = FilePacer(clock)
    for _ in range(40):  # every store takes 30 ms: that is what a store costs now
        pacer.observe(0.030)
        pacer.delay(MIB)
        clock.now += CONTROL_INTERVAL
    assert pacer.rate is None


def test_pieces_are_spaced_at_the_rate_and_a_late_sleep_slows_them():
    clock = Clock()
    pacer = FilePacer(clock)
    window(pacer, clock, store=1.0)
    clock.now += CONTROL_INTERVAL / 2
    assert pacer.rate == MIN_RATE
    first = pacer.delay(MIB)
    assert pacer.delay(MIB) == pytest.approx(first + MIB / MIN_RATE)
    assert pacer.delay(MIB) == pytest.approx(first + 2 * MIB / MIN_RATE)
    clock.now += CONTROL_INTERVAL
    pacer.delay(0)
    climbed = pacer.rate
    assert climbed > MIN_RATE
    pacer.late(3 * TARGET_DELAY)  # a pacing sleep that overran: this process waits for a core
    assert pacer.rate == pytest.approx(climbed / 3)


def test_a_quiet_spell_starts_the_files_unpaced_again():
    clock = Clock()
    pacer = FilePacer(clock)
    window(pacer, clock, store=1.0)
    assert pacer.rate == MIN_RATE
    clock.now += 10  # no message, no file
    pacer.delay(MIB)
    assert pacer.rate is None


@pytest.fixture()
def front(live_module):
    """The front server's app in this process (its pacer at hand), over the real backend."""
    app = webserver.create_app({"BACKEND_URL": live_module.backend.url, "INTERNAL_SECRET": INTERNAL_SECRET})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield app, f"http://127.0.0.1:{server.port}"
    server.shutdown()


def test_every_stored_message_is_timed(front, http_user):
    app, url = front
    pacer: FilePacer = app.extensions["chat.file_pacer"]
    session, room = signed_in(url, http_user("alice"))
    session.get(f"{url}/api/rooms", timeout=5)
    refused = session.post(f"{url}/api/rooms/{room}/messages", json={"text": ""}, timeout=5)
    assert refused.status_code == 422 and pacer.floor is None  # only stored messages are timed
    sent = session.post(
        f"{url}/api/rooms/{room}/messages", json={"text": "hi", "client_id": "p-1"}, timeout=5
    )
    assert sent.status_code == 201, sent.text
    assert pacer.floor is not None and 0 < pacer.floor < 5


def test_files_move_at_the_pace_both_ways(front, http_user):
    app, url = front
    pacer: FilePacer = app.extensions["chat.file_pacer"]
    session, room = signed_in(url, http_user("alice"))
    starved = threading.Event()

    def chat_starved() -> None:  # every store takes a second: files go at the least rate
        pacer.observe(0.002)
        while not starved.is_set():
            pacer.observe(1.0)
            time.sleep(CONTROL_INTERVAL / 4)

    threading.Thread(target=chat_starved, daemon=True).start()
    try:
        time.sleep(3 * CONTROL_INTERVAL)
        assert pacer.rate == MIN_RATE
        data = b"\0" * (4 * MIB)
        least = 3 * MIB / MIN_RATE  # the first piece goes at once, the other three wait their turn
        started = time.monotonic()
        answer = session.post(
            f"{url}/api/rooms/{room}/files",
            files={"file": ("zeros.bin", data)},
            data={"client_id": "p-2"},
            timeout=30,
        )
        took = time.monotonic() - started
        assert answer.status_code == 201, answer.text
        assert took >= 0.9 * least, f"4 MiB went up in {took:.2f} s at {MIN_RATE / MIB:.0f} MiB/s"
        started = time.monotonic()
        down = session.get(url + answer.json()["message"]["file"]["url"], timeout=30)
        took = time.monotonic() - started
        assert down.content == data
        assert took >= 0.9 * least, f"4 MiB came down in {took:.2f} s at {MIN_RATE / MIB:.0f} MiB/s"
    finally:
        starved.set()


def signed_in(url: str, user) -> tuple[requests.Session, str]:
    """A session on the in-process front server with ``user``'s cookie, and the general room's id."""
    session = requests.Session()
    session.cookies.update(user.cookies)
    rooms = session.get(f"{url}/api/rooms", timeout=5).json()["rooms"]
    return session, next(r["id"] for r in rooms if r["name"] == "general")

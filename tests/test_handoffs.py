"""A front server's long-poll of the whole log sleeps through the events handed to it in answers
(backend/handoffs.py), and wakes for everything else: another's event, a handover taken back, or
the quiet time running out."""

from __future__ import annotations

import threading
import time

import pytest

from backend.handoffs import HANDED_QUIET, Handoffs
from common.feed import FRONT_HEADER, front_id, new_front_id
from tests.backend_fixtures import current_pos, new_room, say


class Poll:
    """``GET /internal/events?after=...&wait=...`` in a thread, as front server ``front``."""

    def __init__(self, app, after: int, front: str, wait: float = 5):
        self.answer: dict | None = None
        self.took: float | None = None
        client = app.test_client()

        def run() -> None:
            started = time.monotonic()
            got = client.get(f"/internal/events?after={after}&wait={wait}", headers={FRONT_HEADER: front})
            self.took = time.monotonic() - started
            self.answer = got.get_json()

        self._thread = threading.Thread(target=run)
        self._thread.start()
        time.sleep(0.1)  # parked in the backend

    def result(self, timeout: float = 10) -> tuple[list[int], float]:
        """The positions it served and the seconds it took."""
        self._thread.join(timeout)
        assert self.answer is not None, "the poll did not answer"
        return [item["event"]["pos"] for item in self.answer["events"]], self.took

    @property
    def waiting(self) -> bool:
        return self._thread.is_alive()


@pytest.fixture
def room(users) -> dict:
    return new_room(users.alice, "handoffs", "public")


def relayed_say(caller, room_id: str, text: str, front: str):
    """A message posted through front server ``front``: its answer hands the event over."""
    answer = caller.post(
        f"/api/rooms/{room_id}/messages",
        {"text": text, "client_id": text.replace(" ", "-")},
        headers={FRONT_HEADER: front},
    )
    assert answer.status_code == 201 and answer.get_json()["addressed"], answer.get_data(as_text=True)
    return answer.get_json()


def test_the_long_poll_sleeps_through_what_was_handed_and_wakes_for_another_event(backend_app, users, room):
    front = new_front_id()
    start = current_pos(users.alice)
    poll = Poll(backend_app, start, front)
    mine = relayed_say(users.alice, room["id"], "handed", front)["message"]["pos"]
    time.sleep(0.2)
    assert poll.waiting  # nothing its front server did not already get
    other = say(users.alice, room["id"], "from elsewhere", "elsewhere").get_json()["message"]["pos"]
    served, took = poll.result()
    assert served == [mine, other]  # everything after its cursor, the handed event included
    assert took < HANDED_QUIET + 0.1 + 0.3


def test_another_front_servers_long_poll_wakes_at_once(backend_app, users, room):
    start = current_pos(users.alice)
    poll = Poll(backend_app, start, new_front_id())
    relayed_say(users.alice, room["id"], "not for that one", new_front_id())
    served, took = poll.result()
    assert served == [start + 1] and took < 0.1 + 0.3


def test_handed_events_are_served_once_the_quiet_time_is_over(backend_app, users, room):
    """An answer the front server never read costs it HANDED_QUIET, never the event."""
    front = new_front_id()
    start = current_pos(users.alice)
    poll = Poll(backend_app, start, front)
    mine = relayed_say(users.alice, room["id"], "lost on the way", front)["message"]["pos"]
    served, took = poll.result()
    assert served == [mine]
    assert HANDED_QUIET <= took < HANDED_QUIET + 0.1 + 0.5


def test_a_change_whose_answer_hands_nothing_over_wakes_the_long_poll(backend_app, users, room):
    """A deletion answers 204, with nothing handed over: its event is taken back."""
    front = new_front_id()
    seq = say(users.alice, room["id"], "to delete", "del").get_json()["message"]["seq"]
    start = current_pos(users.alice)
    poll = Poll(backend_app, start, front)
    gone = users.alice.delete(f"/api/rooms/{room['id']}/messages/{seq}", headers={FRONT_HEADER: front})
    assert gone.status_code == 204
    served, took = poll.result()
    assert served == [start + 1] and took < 0.1 + 0.3


def test_a_poll_that_does_not_wait_serves_handed_events_at_once(backend_client, users, room):
    front = new_front_id()
    start = current_pos(users.alice)
    mine = relayed_say(users.alice, room["id"], "handed", front)["message"]["pos"]
    at_once = backend_client.get(f"/internal/events?after={start}", headers={FRONT_HEADER: front})
    assert [item["event"]["pos"] for item in at_once.get_json()["events"]] == [mine]


def test_a_front_server_whose_hub_is_past_all_it_was_handed_is_forgotten():
    """Front servers come and go (each process draws a new id): the record of one ends with its
    positions, not with the backend."""
    handoffs = Handoffs(threading.Condition(), lambda: 7)
    front = new_front_id()
    handoffs.begin(front)
    for pos in (6, 7):
        handoffs.appended(pos)
    handoffs.handed_over()
    handoffs.end()

    def page_after(after: int, limit: int):
        return [], after, False

    handoffs.sleep_through(front, 6, 10, ([7], 7, False), time.monotonic(), page_after)
    assert front in handoffs._handed  # still owed: position 7
    handoffs.sleep_through(front, 7, 10, ([], 7, False), time.monotonic(), page_after)
    assert front not in handoffs._handed


@pytest.mark.parametrize("header", ["", "0123456789abcdeg", "0123456789ABCDEF", "0" * 17, "a b"])
def test_only_a_well_formed_id_names_a_front_server(header):
    assert front_id(header) is None
    assert front_id(new_front_id()) is not None

"""Read positions kept on the server: ``read_seq`` in ``GET /api/rooms``, ``PUT /api/rooms/{id}/read``,
and the ``read`` event that only its reader receives, over the backend's API and through the real
front server.
"""

from __future__ import annotations

import pytest

from tests.backend_fixtures import callers, check_error, current_pos, new_room, restart, room_list, say
from tests.live_http import make_room, post
from tests.ws_client import Client


def mark(caller, room: str, seq):
    return caller.request("PUT", f"/api/rooms/{room}/read", json={"seq": seq})


@pytest.fixture
def room(users) -> str:
    """A private room of alice and bob holding three messages."""
    room = new_room(users.alice, "reading", "private", members=["bob"])["id"]
    for n in range(3):
        assert say(users.alice, room, f"m{n}", f"c{n}").status_code == 201
    return room


def test_a_read_position_starts_at_zero_and_only_moves_forward(users, room):
    assert room_list(users.bob)["reading"]["read_seq"] == 0
    assert mark(users.bob, room, 2).status_code == 204
    assert room_list(users.bob)["reading"]["read_seq"] == 2
    before = current_pos(users.bob)
    assert mark(users.bob, room, 1).status_code == 204  # never back, and nothing stored
    assert mark(users.bob, room, 2).status_code == 204
    assert current_pos(users.bob) == before
    assert mark(users.bob, room, 99).status_code == 204  # never past the last message
    assert room_list(users.bob)["reading"]["read_seq"] == 3
    assert room_list(users.alice)["reading"]["read_seq"] == 0  # each member has their own


def test_only_the_callers_own_rooms_carry_read_seq(users):
    public = new_room(users.alice, "open")["id"]
    assert "read_seq" not in room_list(users.dave)["open"]  # listed, not joined
    assert mark(users.dave, public, 0).status_code == 204  # public: readable by everyone


def test_the_read_event_concerns_its_reader_alone(users, room):
    after = current_pos(users.alice)
    assert mark(users.bob, room, 3).status_code == 204
    mine = users.bob.get(f"/api/events?after={after}").get_json()["events"]
    assert [(e["type"], e["room"], e["seq"]) for e in mine] == [("read", room, 3)]
    assert users.alice.get(f"/api/events?after={after}").get_json()["events"] == []


def test_refusals(users, room):
    check_error(mark(users.carol, room, 1), 404, "not_found")  # private: hidden from non-members
    check_error(mark(users.bob, "nope", 1), 404, "not_found")
    check_error(mark(users.bob, room, -1), 422, "validation_error")
    check_error(mark(users.bob, room, "2"), 422, "validation_error")
    check_error(users.bob.request("PUT", f"/api/rooms/{room}/read", json={}), 422, "validation_error")


def test_read_positions_survive_a_restart(make_backend_app, tmp_path):
    app = make_backend_app()
    people = callers(app)
    room = new_room(people.alice, "kept", members=["bob"])["id"]
    say(people.alice, room, "hello", "c1")
    assert mark(people.bob, room, 1).status_code == 204
    assert room_list(callers(restart(app)).bob)["kept"]["read_seq"] == 1


@pytest.mark.live
def test_a_move_reaches_the_readers_other_tabs_live_and_no_one_else(live_module, http_user, stack):
    alice, bob = http_user("reader"), http_user("writer")
    room = make_room(bob, [alice])
    post(bob, room, "one")
    reading_tab, other_tab, writer = Client(stack, alice), Client(stack, alice), Client(stack, bob)
    answer = alice.put(f"{live_module.url}/api/rooms/{room}/read", json={"seq": 1}, timeout=10)
    assert answer.status_code == 204
    for tab in (reading_tab, other_tab):
        event = tab.until(lambda frame: frame["type"] == "read")
        assert (event["room"], event["seq"]) == (room, 1)
    assert [frame for frame in writer.quiet() if frame["type"] == "read"] == []
    rooms = alice.get(f"{live_module.url}/api/rooms", timeout=10).json()["rooms"]
    assert next(r for r in rooms if r["id"] == room)["read_seq"] == 1

"""The backend's HTTP API, rooms, membership and direct messages: creating, listing and reading
rooms, the room-creation limit, joining, adding, leaving, and one DM per pair."""

from __future__ import annotations

import time

import pytest

from tests.backend_fixtures import (
    ISO_MS_Z,
    callers,
    check_error,
    check_retry_after,
    current_pos,
    general,
    new_room,
    room_list,
    sign_in,
)

# -- rooms ------------------------------------------------------------------------------------


def test_general_exists_from_the_first_start(make_backend_app):
    client = make_backend_app(seeded=False).test_client()
    _, first = sign_in(client, "first")
    _, second = sign_in(client, "second")
    rooms = first.get("/api/rooms").get_json()["rooms"]
    assert len(rooms) == 1
    room = rooms[0]
    assert room["name"] == "general" and room["created_by"] is None
    assert (room["kind"], room["visibility"], room["member"]) == ("group", "public", True)
    assert sorted(room["members"]) == ["first", "second"]
    assert ISO_MS_Z.match(room["created_at"])
    assert general(second)["id"] == room["id"]


def test_room_list_has_own_rooms_and_every_public_room(users):
    public = new_room(users.alice, "alice public")
    private = new_room(users.alice, "alice private", "private", ["bob"])
    users.alice.post("/api/dms", {"username": "bob"})
    for caller, expected in [
        (users.alice, {"general": True, "alice public": True, "alice private": True, "alice, bob": True}),
        (users.bob, {"general": True, "alice public": False, "alice private": True, "alice, bob": True}),
        (users.carol, {"general": True, "alice public": False}),
    ]:
        rooms = room_list(caller)
        assert {name: room["member"] for name, room in rooms.items()} == expected, caller.username
    assert room_list(users.carol)["alice public"]["id"] == public["id"]
    assert room_list(users.bob)["alice private"]["id"] == private["id"]


def test_create_room(users):
    answer = users.alice.post(
        "/api/rooms", {"name": "zebra crossing", "visibility": "private", "members": ["bob", "Carol"]}
    )
    assert answer.status_code == 201
    room = answer.get_json()["room"]
    assert room["name"] == "zebra crossing"
    assert (room["kind"], room["visibility"], room["created_by"], room["last_seq"]) == (
        "group",
        "private",
        "alice",
        0,
    )
    assert sorted(room["members"]) == ["alice", "bob", "carol"]
    assert ISO_MS_Z.match(room["created_at"])
    assert "zebra" not in room["id"].lower()  # ids are opaque
    assert users.carol.get(f"/api/rooms/{room['id']}").status_code == 200
    check_error(users.dave.get(f"/api/rooms/{room['id']}"), 404, "not_found")
    public = new_room(users.bob, "open", "public")
    assert public["members"] == ["bob"] and public["visibility"] == "public"


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "visibility": "public", "members": []},
        {"name": "n" * 65, "visibility": "public", "members": []},
        {"name": "🦓" * 65, "visibility": "public", "members": []},
        {"name": None, "visibility": "public", "members": []},
        {"visibility": "public", "members": []},
        {"name": "ok", "visibility": "secret", "members": []},
        {"name": "ok", "visibility": "public", "members": "bob"},
        {"name": "ok", "visibility": "public", "members": [42]},
    ],
)
def test_create_room_refuses_bad_fields(users, body):
    check_error(users.alice.post("/api/rooms", body), 422, "validation_error")


def test_create_room_name_edges_and_unknown_member(users):
    assert new_room(users.alice, "n")["name"] == "n"
    assert new_room(users.alice, "🦓" * 64)["name"] == "🦓" * 64  # code points, not bytes
    message = check_error(
        users.alice.post(
            "/api/rooms", {"name": "x", "visibility": "public", "members": ["bob", "nobody_here"]}
        ),
        422,
        "validation_error",
    )
    assert "nobody_here" in message
    assert "x" not in room_list(users.alice)


def test_room_creation_is_rate_limited_by_default(users):
    started = time.monotonic()
    for n in range(100):  # a burst of 20, then one every 10 s
        answer = users.alice.post("/api/rooms", {"name": f"burst {n}", "visibility": "public", "members": []})
        if answer.status_code != 201:
            break
    elapsed = time.monotonic() - started
    check_retry_after(answer, 10)
    assert 20 <= n <= 20 + elapsed / 10 + 1, (n, elapsed)
    new_room(users.bob, "bob is not limited by alice")


def test_room_creation_limit_of_zero_is_off(make_backend_app):
    people = callers(make_backend_app({"ROOM_BURST": 0}))
    for n in range(25):
        new_room(people.alice, f"room {n}")


def test_get_room(users):
    public = new_room(users.alice, "pub")
    private = new_room(users.alice, "priv", "private")
    dm = users.alice.post("/api/dms", {"username": "bob"}).get_json()["room"]
    answer = users.carol.get(f"/api/rooms/{public['id']}")
    assert answer.status_code == 200
    room = answer.get_json()["room"]
    assert {key: room[key] for key in public} == public
    for room_id in (private["id"], dm["id"], "r000000000000", "general"):
        check_error(users.carol.get(f"/api/rooms/{room_id}"), 404, "not_found")
    assert users.bob.get(f"/api/rooms/{dm['id']}").get_json()["room"]["id"] == dm["id"]


# -- membership -------------------------------------------------------------------------------


def test_join_a_public_room_and_add_others(users):
    room = new_room(users.alice, "pub")
    answer = users.bob.post(f"/api/rooms/{room['id']}/members", {"username": "bob"})
    assert answer.status_code == 200
    assert sorted(answer.get_json()["room"]["members"]) == ["alice", "bob"]
    answer = users.bob.post(f"/api/rooms/{room['id']}/members", {"username": "CAROL"})
    assert answer.status_code == 200
    assert sorted(answer.get_json()["room"]["members"]) == ["alice", "bob", "carol"]
    assert room_list(users.carol)["pub"]["member"] is True


def test_adding_someone_already_there_changes_nothing(users):
    room = new_room(users.alice, "priv", "private", ["bob"])
    pos = current_pos(users.alice)
    answer = users.alice.post(f"/api/rooms/{room['id']}/members", {"username": "bob"})
    assert answer.status_code == 200
    assert answer.get_json()["room"] == room
    assert current_pos(users.alice) == pos  # no event was stored


def test_add_member_refusals(users):
    public = new_room(users.alice, "pub")
    private = new_room(users.alice, "priv", "private")
    dm = users.alice.post("/api/dms", {"username": "bob"}).get_json()["room"]
    message = check_error(
        users.alice.post(f"/api/rooms/{public['id']}/members", {"username": "ghost_user"}),
        422,
        "validation_error",
    )
    assert "ghost_user" in message
    check_error(users.alice.post(f"/api/rooms/{dm['id']}/members", {"username": "carol"}), 403, "forbidden")
    check_error(
        users.carol.post(f"/api/rooms/{public['id']}/members", {"username": "dave"}), 403, "not_a_member"
    )
    for username in ("carol", "dave", "ghost_user"):
        check_error(
            users.carol.post(f"/api/rooms/{private['id']}/members", {"username": username}), 404, "not_found"
        )
    check_error(users.carol.post(f"/api/rooms/{dm['id']}/members", {"username": "carol"}), 404, "not_found")
    check_error(users.alice.post("/api/rooms/r-unknown/members", {"username": "bob"}), 404, "not_found")
    assert users.alice.get(f"/api/rooms/{public['id']}").get_json()["room"]["members"] == ["alice"]


def test_leave_a_room(users):
    private = new_room(users.alice, "priv", "private", ["bob"])
    answer = users.bob.delete(f"/api/rooms/{private['id']}/members/bob")
    assert answer.status_code == 204 and answer.get_data() == b""
    check_error(users.bob.get(f"/api/rooms/{private['id']}"), 404, "not_found")
    assert users.alice.get(f"/api/rooms/{private['id']}").get_json()["room"]["members"] == ["alice"]
    public = new_room(users.alice, "pub", "public", ["carol"])
    assert users.carol.delete(f"/api/rooms/{public['id']}/members/carol").status_code == 204
    assert room_list(users.carol)["pub"]["member"] is False


def test_leave_refusals(users):
    group = new_room(users.alice, "group", "private", ["bob"])
    dm = users.alice.post("/api/dms", {"username": "bob"}).get_json()["room"]
    check_error(users.alice.delete(f"/api/rooms/{group['id']}/members/bob"), 403, "forbidden")
    check_error(users.alice.delete(f"/api/rooms/{dm['id']}/members/alice"), 403, "forbidden")
    check_error(users.carol.delete(f"/api/rooms/{group['id']}/members/carol"), 404, "not_found")
    assert sorted(users.alice.get(f"/api/rooms/{group['id']}").get_json()["room"]["members"]) == [
        "alice",
        "bob",
    ]
    assert sorted(users.bob.get(f"/api/rooms/{dm['id']}").get_json()["room"]["members"]) == ["alice", "bob"]


# -- direct messages --------------------------------------------------------------------------


def test_one_dm_per_pair(users):
    first = users.bob.post("/api/dms", {"username": "alice"})
    assert first.status_code == 201
    room = first.get_json()["room"]
    assert room["name"] == "alice, bob"
    assert (room["kind"], room["visibility"]) == ("dm", "private")
    assert sorted(room["members"]) == ["alice", "bob"]
    assert "alice" not in room["id"] and "bob" not in room["id"]
    for caller, other in ((users.bob, "alice"), (users.alice, "bob"), (users.alice, "BOB")):
        again = caller.post("/api/dms", {"username": other})
        assert again.status_code == 200
        assert again.get_json()["room"]["id"] == room["id"]
    check_error(users.carol.get(f"/api/rooms/{room['id']}"), 404, "not_found")
    assert "alice, bob" not in room_list(users.carol)


def test_dm_refusals(users):
    check_error(users.alice.post("/api/dms", {"username": "alice"}), 422, "validation_error")
    check_error(users.alice.post("/api/dms", {"username": "Alice"}), 422, "validation_error")
    assert "nobody_at_all" in check_error(
        users.alice.post("/api/dms", {"username": "nobody_at_all"}), 422, "validation_error"
    )
    check_error(users.alice.post("/api/dms", {}), 422, "validation_error")

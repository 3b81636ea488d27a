"""The backend's HTTP API through Flask's test client, with bearer tokens: every row of the
contract's HTTP table as the backend serves it, its limits, its error shape and its rate limits."""

from __future__ import annotations

import io
import re
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from backend import DataDirError, create_app
from tests import backend_fixtures as fx
from tests.backend_fixtures import PASSWORD, Caller, callers, sign_in

# The fixtures this module uses (conftest.py belongs to the live tests).
backend_seed, make_backend_app = fx.backend_seed, fx.make_backend_app
backend_app, backend_client, users = fx.backend_app, fx.backend_client, fx.users

ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def check_error(answer, status: int, code: str) -> str:
    """Assert the contract's JSON error shape, status and code; return the message."""
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/json"
    body = answer.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]["message"]


def check_retry_after(answer, at_most: int) -> None:
    """A 429 ``rate_limited`` with a whole number of seconds to wait."""
    check_error(answer, 429, "rate_limited")
    assert 1 <= int(answer.headers["Retry-After"]) <= at_most


def new_room(caller: Caller, name: str = "room", visibility: str = "public", members=()) -> dict:
    """Create a room and return it."""
    answer = caller.post("/api/rooms", {"name": name, "visibility": visibility, "members": list(members)})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()["room"]


def say(caller: Caller, room_id: str, text: str, client_id: str):
    """Post a message; the answer."""
    return caller.post(f"/api/rooms/{room_id}/messages", {"text": text, "client_id": client_id})


def room_list(caller: Caller) -> dict[str, dict]:
    """The caller's ``GET /api/rooms``, by name."""
    answer = caller.get("/api/rooms")
    assert answer.status_code == 200
    return {room["name"]: room for room in answer.get_json()["rooms"]}


def general(caller: Caller) -> dict:
    """The room ``general`` as the caller sees it."""
    return room_list(caller)["general"]


def current_pos(caller: Caller) -> int:
    """The events cursor now."""
    return caller.get("/api/events").get_json()["pos"]


# -- POST/GET/DELETE /api/session ------------------------------------------------------------


def test_register_then_sign_in(backend_client):
    answer, erin = sign_in(backend_client, "erin", "erin's password")
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["user"] == {"username": "erin"}
    assert set(body["session"]) == {"token", "expires_at"}
    assert ISO_MS_Z.match(body["session"]["expires_at"])
    expires = datetime.strptime(body["session"]["expires_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(expires - datetime.now(UTC) - timedelta(days=30)) < timedelta(minutes=1)
    assert erin.get("/api/session").get_json() == {"user": {"username": "erin"}}
    assert general(erin)["member"] is True and "erin" in general(erin)["members"]

    again, erin_again = sign_in(backend_client, "erin", "erin's password")
    assert again.status_code == 200 and again.get_json()["user"] == {"username": "erin"}
    assert erin_again.token != erin.token
    check_error(sign_in(backend_client, "erin", "not erin's password")[0], 401, "invalid_credentials")


def test_usernames_are_unique_ignoring_case(backend_client):
    answer, caller = sign_in(backend_client, "ALICE", PASSWORD)
    assert answer.status_code == 200  # a sign-in to alice, not a new account
    assert caller.username == "alice"
    check_error(sign_in(backend_client, "Alice", "a different password")[0], 401, "invalid_credentials")


@pytest.mark.parametrize(
    "username, password",
    [
        ("a", PASSWORD),
        ("x" * 33, PASSWORD),
        ("has space", PASSWORD),
        ("slash/name", PASSWORD),
        ("at@sign", PASSWORD),
        ("", PASSWORD),
        (None, PASSWORD),
        (12345, PASSWORD),
        ("valid_name", "seven77"),
        ("valid_name", "p" * 129),
        ("valid_name", "🔑" * 7),
        ("valid_name", None),
        ("valid_name", 123456789),
    ],
)
def test_bad_username_or_password_is_refused(backend_client, username, password):
    check_error(
        backend_client.post("/api/session", json={"username": username, "password": password}),
        422,
        "validation_error",
    )


def test_length_edges_are_accepted(backend_client):
    for username, password in [("ab", "p" * 8), ("x" * 32, "🔑" * 128), ("a_b-c.9", "🔑" * 8)]:
        answer, _ = sign_in(backend_client, username, password)
        assert answer.status_code == 201, (username, answer.get_data(as_text=True))


def test_eleventh_failed_sign_in_is_rate_limited_by_default(backend_client):
    for attempt in range(10):
        name = "alice" if attempt % 2 else "Alice"  # counted per username, ignoring case
        check_error(sign_in(backend_client, name, f"wrong password {attempt}")[0], 401, "invalid_credentials")
    check_retry_after(sign_in(backend_client, "alice", "wrong again")[0], 300)
    assert sign_in(backend_client, "bob")[0].status_code == 200  # other names are not affected


def test_failed_sign_in_limit_is_configurable(make_backend_app):
    client = make_backend_app({"LOGIN_FAILURES": 2}).test_client()
    for _ in range(2):
        check_error(sign_in(client, "carol", "wrong password")[0], 401, "invalid_credentials")
    check_retry_after(sign_in(client, "carol", "wrong password")[0], 300)


def test_session_needs_a_valid_bearer_token(backend_client, users):
    assert users.alice.get("/api/session").get_json() == {"user": {"username": "alice"}}
    check_error(backend_client.get("/api/session"), 401, "unauthenticated")
    for header in ("Bearer not-a-token", "Bearer ", f"Basic {users.alice.token}", users.alice.token):
        check_error(
            backend_client.get("/api/session", headers={"Authorization": header}), 401, "unauthenticated"
        )


def test_sign_out_revokes_the_token(users):
    answer = users.alice.delete("/api/session")
    assert answer.status_code == 204 and answer.get_data() == b""
    check_error(users.alice.get("/api/session"), 401, "unauthenticated")
    check_error(users.alice.get("/api/rooms"), 401, "unauthenticated")
    assert users.bob.get("/api/session").status_code == 200


def test_user_list(backend_client, users):
    answer = users.alice.get("/api/users")
    assert answer.status_code == 200
    assert sorted(user["username"] for user in answer.get_json()["users"]) == [
        "alice",
        "bob",
        "carol",
        "dave",
    ]
    check_error(backend_client.get("/api/users"), 401, "unauthenticated")


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


# -- messages ---------------------------------------------------------------------------------


@pytest.fixture
def room_of_60(users) -> str:
    """A public room of alice's holding messages seq 1 to 60."""
    room = new_room(users.alice, "history")
    for n in range(1, 61):
        assert say(users.alice, room["id"], f"message {n}", f"c{n}").status_code == 201
    return room["id"]


def page(caller: Caller, room_id: str, query: str = "") -> tuple[list[int], int]:
    """The seqs of one history page and its ``last_seq``."""
    answer = caller.get(f"/api/rooms/{room_id}/messages{query}")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert set(body) == {"messages", "last_seq"}
    return [message["seq"] for message in body["messages"]], body["last_seq"]


def test_history_pages(users, room_of_60):
    cases = {
        "": range(11, 61),  # the latest 50 by default
        "?limit=1": [60],
        "?limit=200": range(1, 61),
        "?after=0": range(1, 51),
        "?after=55": range(56, 61),
        "?after=59&limit=1": [60],
        "?after=60": [],
        "?before=1": [],
        "?before=3": [1, 2],
        "?before=30&limit=5": range(25, 30),
        "?before=61&limit=200": range(1, 61),
    }
    for query, expected in cases.items():
        assert page(users.alice, room_of_60, query) == (list(expected), 60), query


def test_history_messages_are_the_stored_ones(users, room_of_60):
    messages = users.bob.get(f"/api/rooms/{room_of_60}/messages?after=4&limit=2").get_json()["messages"]
    assert [(m["text"], m["client_id"], m["sender"], m["room"]) for m in messages] == [
        ("message 5", "c5", "alice", room_of_60),
        ("message 6", "c6", "alice", room_of_60),
    ]


@pytest.mark.parametrize(
    "query",
    [
        "?after=1&before=5",
        "?limit=0",
        "?limit=201",
        "?limit=-1",
        "?limit=ten",
        "?after=-1",
        "?after=x",
        "?before=-1",
    ],
)
def test_history_refuses_bad_queries(users, room_of_60, query):
    check_error(users.alice.get(f"/api/rooms/{room_of_60}/messages{query}"), 422, "validation_error")


def test_history_visibility(users):
    public = new_room(users.alice, "pub")
    private = new_room(users.alice, "priv", "private")
    dm = users.alice.post("/api/dms", {"username": "bob"}).get_json()["room"]
    for room in (public, private, dm):
        say(users.alice, room["id"], "hello", "c1")
    assert page(users.dave, public["id"]) == ([1], 1)  # a public room is readable by anyone signed in
    for room_id in (private["id"], dm["id"], "r-unknown"):
        check_error(users.dave.get(f"/api/rooms/{room_id}/messages"), 404, "not_found")
    assert page(users.bob, dm["id"]) == ([1], 1)


def test_post_message(users):
    room = new_room(users.alice, "talk", "public", ["bob"])
    answer = say(users.alice, room["id"], "hello there", "client-1")
    assert answer.status_code == 201
    message = answer.get_json()["message"]
    assert set(message) == {"id", "room", "seq", "pos", "sender", "text", "ts", "client_id"}
    assert (message["room"], message["seq"], message["sender"]) == (room["id"], 1, "alice")
    assert (message["text"], message["client_id"]) == ("hello there", "client-1")
    assert ISO_MS_Z.match(message["ts"])
    assert "hello" not in message["id"] and message["id"] != room["id"]
    assert message["pos"] == current_pos(users.alice)

    again = say(users.alice, room["id"], "a different text", "client-1")
    assert again.status_code == 200 and again.get_json()["message"] == message
    assert page(users.alice, room["id"]) == ([1], 1)  # stored once
    by_bob = say(users.bob, room["id"], "hello there", "client-1")  # same id, another sender
    assert by_bob.status_code == 201 and by_bob.get_json()["message"]["seq"] == 2


def test_concurrent_retries_of_one_client_id_store_one_message(backend_app, users):
    room_id = general(users.alice)["id"]
    answers = []
    start = threading.Barrier(8)

    def send() -> None:
        alice = Caller(backend_app.test_client(), "alice", users.alice.token)
        start.wait()
        answers.append(say(alice, room_id, "only once", "same-client-id"))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(answer.status_code for answer in answers) == [200] * 7 + [201]
    assert len({answer.get_data() for answer in answers}) == 1  # all carry the one stored message
    assert page(users.alice, room_id) == ([1], 1)


def test_seq_per_room_and_pos_across_rooms(users):
    one = new_room(users.alice, "one")
    two = new_room(users.alice, "two")
    seen = []
    for n in range(1, 4):
        for room in (one, two):
            seen.append(say(users.alice, room["id"], f"n{n}", f"c{n}").get_json()["message"])
    assert [(m["room"], m["seq"]) for m in seen] == [(r["id"], n) for n in range(1, 4) for r in (one, two)]
    positions = [m["pos"] for m in seen]
    assert positions == sorted(positions) and len(set(positions)) == 6
    assert users.alice.get(f"/api/rooms/{one['id']}").get_json()["room"]["last_seq"] == 3


@pytest.mark.parametrize(
    "body",
    [
        {"text": "hi"},
        {"text": "hi", "client_id": ""},
        {"text": "hi", "client_id": "has space"},
        {"text": "hi", "client_id": "x" * 65},
        {"text": "hi", "client_id": 7},
        {"text": "", "client_id": "c1"},
        {"text": " \t\n\u3000 ", "client_id": "c1"},
        {"text": None, "client_id": "c1"},
        {"client_id": "c1"},
        {"text": "😀" * 4001, "client_id": "c1"},
        {"text": "a" * 4001, "client_id": "c1"},
    ],
)
def test_post_message_refuses_bad_fields(users, body):
    room_id = general(users.alice)["id"]
    check_error(users.alice.post(f"/api/rooms/{room_id}/messages", body), 422, "validation_error")
    assert page(users.alice, room_id) == ([], 0)


def test_post_message_length_edges(users):
    room_id = general(users.alice)["id"]
    long_emoji = say(users.alice, room_id, "😀" * 4000, "x" * 64)  # code points, not UTF-16 units
    assert long_emoji.status_code == 201
    assert long_emoji.get_json()["message"]["text"] == "😀" * 4000
    assert say(users.alice, room_id, "a" * 4000, "A_z-9").status_code == 201
    assert say(users.alice, room_id, "  x  ", "c").status_code == 201


def test_post_message_needs_membership(users):
    public = new_room(users.alice, "pub")
    private = new_room(users.alice, "priv", "private")
    check_error(say(users.dave, public["id"], "hi", "c1"), 403, "not_a_member")
    check_error(say(users.dave, private["id"], "hi", "c1"), 404, "not_found")
    check_error(say(users.dave, "r-unknown", "hi", "c1"), 404, "not_found")
    assert page(users.alice, public["id"]) == ([], 0)


def test_messages_are_rate_limited_by_default_but_retries_still_answer(users):
    room_id = general(users.alice)["id"]
    started = time.monotonic()
    for n in range(1000):  # a burst of 300, then 10 a second: the refill while posting counts too
        answer = say(users.alice, room_id, f"m{n}", f"c{n}")
        if answer.status_code != 201:
            break
    elapsed = time.monotonic() - started
    check_retry_after(answer, 1)
    assert 300 <= n <= 300 + 10 * elapsed + 1, (n, elapsed)
    retry = say(users.alice, room_id, "m7", "c7")  # a client retrying a message that was stored
    assert retry.status_code == 200 and retry.get_json()["message"]["seq"] == 8
    assert say(users.bob, room_id, "bob is not limited by alice", "b1").status_code == 201
    assert page(users.alice, room_id, "?limit=1")[1] == n + 1


def test_message_limit_is_configurable(make_backend_app):
    people = callers(make_backend_app({"MESSAGE_BURST": 3, "MESSAGE_RATE": 0.5}))
    room_id = general(people.alice)["id"]
    for n in range(3):
        assert say(people.alice, room_id, "hi", f"c{n}").status_code == 201
    check_retry_after(say(people.alice, room_id, "hi", "c3"), 2)


# -- events -----------------------------------------------------------------------------------


def events(caller: Caller, query: str) -> dict:
    """One ``GET /api/events`` answer."""
    answer = caller.get(f"/api/events{query}")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert set(body) == {"events", "pos", "more"}
    return body


def test_events_without_after_give_only_the_cursor(users):
    room = new_room(users.alice, "pub")
    message = say(users.alice, room["id"], "hi", "c1").get_json()["message"]
    assert events(users.carol, "") == {"events": [], "pos": message["pos"], "more": False}
    assert events(users.carol, "?wait=0") == {"events": [], "pos": message["pos"], "more": False}


def test_events_after_are_those_that_concern_the_caller(users):
    start = current_pos(users.carol)
    public = new_room(users.alice, "pub")
    public_created = current_pos(users.alice)
    private = new_room(users.alice, "priv", "private", ["bob"])
    private_created = current_pos(users.alice)
    say(users.alice, public["id"], "not for carol yet", "c1")
    for_bob = say(users.alice, private["id"], "never for carol", "c2").get_json()["message"]
    users.carol.post(f"/api/rooms/{public['id']}/members", {"username": "carol"})
    mine = say(users.alice, public["id"], "for carol", "c3").get_json()["message"]
    users.carol.delete(f"/api/rooms/{public['id']}/members/carol")
    say(users.alice, public["id"], "after carol left", "c4")
    body = events(users.carol, f"?after={start}")
    kinds = [(event["type"], event.get("room", event.get("message"))["id"]) for event in body["events"]]
    assert kinds == [
        ("room", public["id"]),
        ("room", public["id"]),
        ("message", mine["id"]),
        ("room", public["id"]),
    ]
    assert body["events"][2] == {"type": "message", "pos": mine["pos"], "message": mine}
    assert "carol" not in body["events"][3]["room"]["members"]  # the event that removed her
    assert body["pos"] >= body["events"][-1]["pos"] and body["more"] is False
    positions = [event["pos"] for event in body["events"]]
    assert positions == sorted(set(positions))
    bob_sees = [event["pos"] for event in events(users.bob, f"?after={start}")["events"]]
    assert bob_sees == [public_created, private_created, for_bob["pos"]]


def test_events_come_in_batches_of_at_most_500(backend_app, users):
    store = backend_app.extensions["chat.store"]
    room_id = general(users.alice)["id"]
    start = current_pos(users.alice)
    for n in range(650):
        store.post_message("alice", room_id, f"m{n}", f"c{n}")
    first = events(users.bob, f"?after={start}")
    assert len(first["events"]) == 500 and first["more"] is True
    assert first["pos"] == first["events"][-1]["pos"]
    rest = events(users.bob, f"?after={first['pos']}")
    assert len(rest["events"]) == 150 and rest["more"] is False
    texts = [event["message"]["text"] for event in first["events"] + rest["events"]]
    assert texts == [f"m{n}" for n in range(650)]
    assert events(users.bob, f"?after={rest['pos']}") == {"events": [], "pos": rest["pos"], "more": False}


def test_internal_events_come_in_batches_of_at_most_1000(backend_app, backend_client, users):
    store = backend_app.extensions["chat.store"]
    room_id = general(users.alice)["id"]
    start = current_pos(users.alice)
    for n in range(1100):
        store.post_message("alice", room_id, f"m{n}", f"c{n}")
    first = backend_client.get(f"/internal/events?after={start}").get_json()
    assert len(first["events"]) == 1000 and first["more"] is True
    rest = backend_client.get(f"/internal/events?after={first['pos']}").get_json()
    assert len(rest["events"]) == 100 and rest["more"] is False
    assert [e["pos"] for e in first["events"] + rest["events"]] == list(range(start + 1, start + 1101))


def test_events_wait_returns_when_one_arrives(backend_app, users):
    store = backend_app.extensions["chat.store"]
    room_id = general(users.alice)["id"]
    start = current_pos(users.bob)
    later = threading.Timer(0.2, store.post_message, ("alice", room_id, "wake up", "w1"))
    later.start()
    try:
        started = time.monotonic()
        body = events(users.bob, f"?after={start}&wait=5")
        elapsed = time.monotonic() - started
    finally:
        later.join()
    assert [event["message"]["text"] for event in body["events"]] == ["wake up"]
    assert 0.15 <= elapsed < 2
    started = time.monotonic()
    assert events(users.bob, f"?after={body['pos']}&wait=0.3")["events"] == []
    assert time.monotonic() - started >= 0.25


@pytest.mark.parametrize(
    "query",
    ["?wait=-1", "?wait=31", "?wait=nan", "?wait=soon", "?after=0&wait=30.5", "?after=-1", "?after=x"],
)
def test_events_refuse_bad_queries(users, query):
    check_error(users.alice.get(f"/api/events{query}"), 422, "validation_error")


def test_events_accept_the_bounds_of_wait(users):
    users.alice.post("/api/dms", {"username": "bob"})  # something to return at once
    assert events(users.alice, "?after=0&wait=30")["events"]
    assert events(users.alice, "?after=0&wait=0")["events"]


def test_internal_feeds(backend_app, backend_client, users):
    private = new_room(users.alice, "priv", "private")
    dm = users.bob.post("/api/dms", {"username": "carol"}).get_json()["room"]
    body = backend_client.get("/internal/events?after=0").get_json()
    assert [event["pos"] for event in body["events"]] == list(range(1, body["pos"] + 1))
    assert {private["id"], dm["id"]} <= {e["room"]["id"] for e in body["events"] if e["type"] == "room"}
    snapshot = backend_client.get("/internal/rooms").get_json()
    assert snapshot["pos"] == body["pos"]
    assert {room["id"] for room in snapshot["rooms"]} >= {private["id"], dm["id"]}


# -- errors -----------------------------------------------------------------------------------

PROTECTED = [
    ("GET", "/api/session"),
    ("GET", "/api/users"),
    ("GET", "/api/rooms"),
    ("POST", "/api/rooms"),
    ("GET", "/api/rooms/ROOM"),
    ("POST", "/api/rooms/ROOM/members"),
    ("DELETE", "/api/rooms/ROOM/members/alice"),
    ("POST", "/api/dms"),
    ("GET", "/api/rooms/ROOM/messages"),
    ("POST", "/api/rooms/ROOM/messages"),
    ("GET", "/api/events"),
]


def test_every_api_route_needs_a_valid_token(backend_client, users):
    room_id = general(users.alice)["id"]
    for method, path in PROTECTED:
        path = path.replace("ROOM", room_id)
        body = {"username": "bob", "name": "x", "text": "hi", "client_id": "c1", "visibility": "public"}
        check_error(backend_client.open(path, method=method, json=body), 401, "unauthenticated")
        bad = Caller(backend_client, "nobody", "forged-token")
        check_error(bad.request(method, path, json=body), 401, "unauthenticated")


@pytest.mark.parametrize("payload", [b"not json", b'{"text": "hi",', b"[1, 2]", b'"a string"', b"null", b""])
def test_bodies_that_are_not_json_objects(users, payload):
    room_id = general(users.alice)["id"]
    for caller, path in [
        (users.alice, "/api/rooms"),
        (users.alice, f"/api/rooms/{room_id}/messages"),
        (users.alice, f"/api/rooms/{room_id}/members"),
        (users.alice, "/api/dms"),
    ]:
        answer = caller.request("POST", path, data=payload, headers={"Content-Type": "application/json"})
        check_error(answer, 400, "invalid_json")
    answer = users.alice.client.post(
        "/api/session", data=payload, headers={"Content-Type": "application/json"}
    )
    check_error(answer, 400, "invalid_json")


def test_unknown_paths_and_methods_answer_json(users):
    for path in ("/api/nothing-here", "/api/rooms/r-unknown/messages/extra", "/api/"):
        check_error(users.alice.get(path), 404, "not_found")
    for method, path in [("PUT", "/api/rooms"), ("DELETE", "/api/users"), ("PATCH", "/api/session")]:
        answer = users.alice.request(method, path)
        assert answer.status_code == 405
        assert answer.mimetype == "application/json"
        assert set(answer.get_json()["error"]) == {"code", "message"}


def test_bodies_over_64_kib_are_refused(users):
    room_id = general(users.alice)["id"]
    over = b'{"text": "' + b"a" * 65_536 + b'", "client_id": "big"}'
    for path in (f"/api/rooms/{room_id}/messages", "/api/rooms", "/api/dms"):
        answer = users.alice.request("POST", path, data=over, headers={"Content-Type": "application/json"})
        check_error(answer, 413, "payload_too_large")
    answer = users.alice.client.post("/api/session", data=over, headers={"Content-Type": "application/json"})
    check_error(answer, 413, "payload_too_large")
    head = b'{"text": "hi", "client_id": "fits", "pad": "'
    for size, status in [(65_537, 413), (65_536, 201)]:
        body = head + b" " * (size - len(head) - 2) + b'"}'
        assert len(body) == size
        answer = users.alice.request(
            "POST", f"/api/rooms/{room_id}/messages", data=body, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == status, size
    assert page(users.alice, room_id) == ([1], 1)


def test_chunked_bodies_over_64_kib_are_refused(users):
    # A body sent without Content-Length (Transfer-Encoding: chunked); gunicorn marks such input as
    # terminated, which is what lets the app read it at all.
    room_id = general(users.alice)["id"]
    head = b'{"text": "hi", "client_id": "chunked", "pad": "'
    for size, status in [(1000, 201), (70_000, 413)]:
        body = head + b" " * (size - len(head) - 2) + b'"}'
        answer = users.alice.request(
            "POST",
            f"/api/rooms/{room_id}/messages",
            input_stream=io.BytesIO(body),
            headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True},
        )
        if status == 201:
            assert answer.status_code == 201, answer.get_data(as_text=True)
        else:
            check_error(answer, 413, "payload_too_large")


def test_health_check(backend_client):
    answer = backend_client.get("/healthz")
    assert answer.status_code == 200 and answer.get_json() == {"status": "ok"}


def test_what_was_answered_is_on_disk_and_survives_a_restart(tmp_path, backend_seed):
    data_dir = tmp_path / "restart"
    shutil.copytree(backend_seed[0], data_dir)
    app = create_app({"DATA_DIR": str(data_dir)})
    try:
        people = callers_from(app, backend_seed[1])
        room = new_room(people.alice, "kept", "private", ["bob"])
        message = say(people.bob, room["id"], "still here?", "k1").get_json()["message"]
        with pytest.raises(DataDirError):  # one backend per data directory
            create_app({"DATA_DIR": str(data_dir)})
        lines = (data_dir / "events.jsonl").read_text().splitlines()
        assert sum(message["id"] in line and "still here?" in line for line in lines) == 1
        before = people.bob.get(f"/api/rooms/{room['id']}/messages").get_json()
        rooms_before = people.bob.get("/api/rooms").get_json()
    finally:
        app.extensions["chat.store"].close()
    app = create_app({"DATA_DIR": str(data_dir)})
    try:
        people = callers_from(app, backend_seed[1])  # sessions survive too
        assert people.bob.get(f"/api/rooms/{room['id']}/messages").get_json() == before
        assert people.bob.get("/api/rooms").get_json() == rooms_before
        again = say(people.bob, room["id"], "still here?", "k1")
        assert again.status_code == 200 and again.get_json()["message"] == message
        assert say(people.bob, room["id"], "next", "k2").get_json()["message"]["seq"] == 2
    finally:
        app.extensions["chat.store"].close()


def callers_from(app, tokens: dict[str, str]):
    """The seeded people as Callers on ``app``, with the tokens they were given."""
    app.extensions["test.tokens"] = tokens
    return callers(app)

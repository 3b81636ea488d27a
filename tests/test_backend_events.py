"""The backend's HTTP API, events, errors and limits: the user and internal event feeds, the
contract's error shape for missing tokens, bad bodies and unknown routes, the 64 KiB body limit, the
health check, and what was answered surviving a restart."""

from __future__ import annotations

import io
import shutil
import threading
import time

import pytest

from backend import DataDirError, create_app
from tests.backend_fixtures import (
    Caller,
    callers_from,
    check_error,
    current_pos,
    general,
    new_room,
    page,
    say,
)

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
    items = first["events"] + rest["events"]
    assert [item["event"]["pos"] for item in items] == list(range(start + 1, start + 1101))
    assert all(sorted(item["users"]) == ["alice", "bob", "carol", "dave"] for item in items)


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
    assert [item["event"]["pos"] for item in body["events"]] == list(range(1, body["pos"] + 1))
    rooms = {item["event"]["room"]["id"]: item for item in body["events"] if item["event"]["type"] == "room"}
    assert rooms[private["id"]]["users"] == ["alice"]
    assert sorted(rooms[dm["id"]]["users"]) == ["bob", "carol"]
    snapshot = backend_client.get("/internal/rooms").get_json()
    assert snapshot["pos"] == body["pos"]
    assert {room["id"] for room in snapshot["rooms"]} >= {private["id"], dm["id"]}


def test_the_hubs_feed_names_exactly_whom_the_user_feed_gives_each_event(users):
    start = current_pos(users.alice)
    public = new_room(users.alice, "pub", "public", ["bob"])
    private = new_room(users.alice, "priv", "private", ["bob"])
    say(users.alice, public["id"], "in pub", "c1")
    users.carol.post(f"/api/rooms/{public['id']}/members", {"username": "carol"})
    say(users.bob, private["id"], "in priv", "c2")
    users.bob.delete(f"/api/rooms/{private['id']}/members/bob")
    say(users.alice, private["id"], "after bob", "c3")
    items = users.alice.client.get(f"/internal/events?after={start}").get_json()["events"]
    everyone = [item["event"]["pos"] for item in items if item["users"] == "*"]
    assert everyone == [items[0]["event"]["pos"]]  # the public room's creation, and only it
    for person in ("alice", "bob", "carol", "dave"):
        caller = getattr(users, person)
        mine = [e["pos"] for e in events(caller, f"?after={start}")["events"]]
        named = [item["event"]["pos"] for item in items if item["users"] == "*" or person in item["users"]]
        assert mine == named, person


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


def test_a_change_hands_back_its_events_as_the_hubs_feed_brings_them(users, backend_client):
    private = new_room(users.alice, "pair", "private", ["bob"])
    start = current_pos(users.alice)
    answer = say(users.alice, private["id"], "hi bob", "c-feed").get_json()
    fed = backend_client.get(f"/internal/events?after={start}").get_json()["events"]
    assert answer["addressed"] == fed
    assert answer["addressed"][0]["event"]["message"] == answer["message"]
    assert sorted(answer["addressed"][0]["users"]) == ["alice", "bob"]
    again = say(users.alice, private["id"], "hi bob", "c-feed").get_json()
    assert again == {"message": answer["message"]}  # a repeat stores nothing: nothing to hand over

    seq = answer["message"]["seq"]
    edited = users.alice.request(
        "PATCH", f"/api/rooms/{private['id']}/messages/{seq}", json={"text": "hi, bob"}
    )
    assert edited.status_code == 200, edited.get_data(as_text=True)
    (item,) = edited.get_json()["addressed"]
    assert item["event"]["type"] == "update" and item["event"]["message"]["text"] == "hi, bob"
    assert (
        item
        == backend_client.get(f"/internal/events?after={fed[-1]['event']['pos']}").get_json()["events"][0]
    )

    created = users.alice.post("/api/rooms", {"name": "another", "visibility": "public"}).get_json()
    assert created["addressed"][0]["event"]["type"] == "room" and created["addressed"][0]["users"] == "*"
    assert "addressed" not in users.alice.get("/api/rooms").get_json()  # nothing changed: nothing handed


def test_a_call_that_saw_many_events_hands_over_none(users, backend_app):
    """More than HANDOVER_LIMIT events appended while a call ran: the hub takes them from the log."""
    from backend import handover

    room = new_room(users.alice, "busy", "public")
    with backend_app.test_request_context(f"/api/rooms/{room['id']}/messages", method="POST"):
        backend_app.preprocess_request()
        for n in range(handover.HANDOVER_LIMIT + 1):
            say(users.bob, room["id"], f"meanwhile {n}", f"m-{n}")
        answer = backend_app.process_response(backend_app.make_response(({"message": {}}, 201)))
    assert answer.get_json() == {"message": {}}

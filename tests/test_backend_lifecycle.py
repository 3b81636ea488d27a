"""The backend's HTTP API for messages after they are sent: read one, reply, edit, delete, react.

Every row of the contract's table, its success and its refusals, who may do what, what the feeds
and history serve afterwards (a deleted text is served nowhere, not even to a replay from before it
was sent), the edit window, and that the state survives a restart of the backend.
"""

from __future__ import annotations

import orjson
import pytest

from tests.backend_fixtures import ISO_MS_Z, callers, check_error, current_pos, new_room, restart, say


def url(room: str, seq: int | str = "", emoji: str | None = None) -> str:
    path = f"/api/rooms/{room}/messages" + (f"/{seq}" if seq != "" else "")
    return path if emoji is None else f"{path}/reactions/{emoji}"


def edit(caller, room: str, seq, text):
    return caller.request("PATCH", url(room, seq), json={"text": text})


def react(caller, room: str, seq, emoji: str, add: bool = True):
    return caller.request("PUT" if add else "DELETE", url(room, seq, emoji))


def events(caller, after: int) -> list[dict]:
    answer = caller.get(f"/api/events?after={after}")
    assert answer.status_code == 200
    return answer.get_json()["events"]


@pytest.fixture
def room(users) -> str:
    """A public room of alice's with bob in it, holding alice's seq 1 and bob's seq 2."""
    room = new_room(users.alice, "lifecycle", members=["bob"])["id"]
    assert say(users.alice, room, "first, from alice", "a1").status_code == 201
    assert say(users.bob, room, "second, from bob", "b1").status_code == 201
    return room


@pytest.fixture
def private(users) -> str:
    """A private room of alice's and bob's holding one message of alice's."""
    room = new_room(users.alice, "secret", "private", members=["bob"])["id"]
    assert say(users.alice, room, "the password is hunter2", "p1").status_code == 201
    return room


# -- GET one message --------------------------------------------------------------------------


def test_one_message_as_stored(users, room):
    answer = users.carol.get(url(room, 2))  # a public room: anyone signed in reads it
    assert answer.status_code == 200
    message = answer.get_json()["message"]
    assert (message["seq"], message["sender"], message["text"]) == (2, "bob", "second, from bob")
    assert not {"edited_at", "deleted", "reactions", "reply_to"} & set(message)
    for seq in (0, 3, -1, "x", 99999999999999999999):
        check_error(users.alice.get(url(room, seq)), 404, "not_found")


def test_private_rooms_do_not_exist_to_others_on_every_new_path(users, private):
    for seq in (1, 2):
        for answer in (
            users.carol.get(url(private, seq)),
            edit(users.carol, private, seq, "mine now"),
            users.carol.delete(url(private, seq)),
            react(users.carol, private, seq, "👍"),
            react(users.carol, private, seq, "👍", add=False),
            react(users.carol, private, seq, "not an emoji"),
        ):
            check_error(answer, 404, "not_found")
    check_error(
        users.carol.post(url(private), {"text": "hi", "client_id": "x", "reply_to": 1}), 404, "not_found"
    )
    assert users.alice.get(url(private, 1)).get_json()["message"]["text"] == "the password is hunter2"


# -- reply_to --------------------------------------------------------------------------------


def test_reply_to_names_a_message_of_the_same_room(users, room, private):
    answer = users.bob.post(url(room), {"text": "answering", "client_id": "r1", "reply_to": 1})
    assert answer.status_code == 201
    assert answer.get_json()["message"]["reply_to"] == 1
    assert users.alice.get(url(room, 3)).get_json()["message"]["reply_to"] == 1
    for bad in (0, 4, 999, -1, "1", 1.5, True):
        body = {"text": "x", "client_id": f"bad{bad}", "reply_to": bad}
        check_error(users.bob.post(url(room), body), 422, "validation_error")
    # seq 2 exists in the other room only
    body = {"text": "x", "client_id": "other", "reply_to": 2}
    assert "reply_to" in check_error(users.bob.post(url(private), body), 422, "validation_error")
    # null is the same as leaving it out
    answer = users.bob.post(url(room), {"text": "plain", "client_id": "r2", "reply_to": None})
    assert answer.status_code == 201 and "reply_to" not in answer.get_json()["message"]


def test_reply_to_a_deleted_message_is_allowed(users, room):
    assert users.alice.delete(url(room, 1)).status_code == 204
    answer = users.bob.post(url(room), {"text": "too late", "client_id": "r1", "reply_to": 1})
    assert answer.status_code == 201 and answer.get_json()["message"]["reply_to"] == 1


# -- PATCH: edit -------------------------------------------------------------------------------


def test_the_sender_edits(users, room):
    before = current_pos(users.alice)
    answer = edit(users.alice, room, 1, "first, fixed")
    assert answer.status_code == 200
    message = answer.get_json()["message"]
    assert message["text"] == "first, fixed" and ISO_MS_Z.match(message["edited_at"])
    assert (message["seq"], message["pos"], message["client_id"]) == (1, before - 1, "a1")
    assert users.bob.get(url(room, 1)).get_json()["message"] == message
    assert users.bob.get(url(room)).get_json()["messages"][0] == message
    assert current_pos(users.alice) == before + 1


def test_an_edit_to_the_same_text_changes_nothing(users, room):
    before = current_pos(users.alice)
    answer = edit(users.alice, room, 1, "first, from alice")
    assert answer.status_code == 200 and "edited_at" not in answer.get_json()["message"]
    assert current_pos(users.alice) == before


def test_edit_refusals(users, room, private):
    check_error(edit(users.alice, room, 2, "not mine"), 403, "forbidden")
    check_error(edit(users.carol, room, 1, "not mine"), 403, "forbidden")
    check_error(edit(users.alice, room, 3, "nothing there"), 404, "not_found")
    for text in ("", "   ", "x" * 4001, 5, None):
        check_error(edit(users.alice, room, 1, text), 422, "validation_error")
    check_error(
        users.alice.request("PATCH", url(room, 1), data="{", content_type="application/json"),
        400,
        "invalid_json",
    )
    assert users.alice.delete(url(room, 1)).status_code == 204
    check_error(edit(users.alice, room, 1, "back from the dead"), 404, "not_found")


def test_a_sender_who_left_a_public_room_cannot_change_it(users, room):
    assert users.bob.delete(f"/api/rooms/{room}/members/bob").status_code == 204
    check_error(edit(users.bob, room, 2, "edited after leaving"), 403, "not_a_member")
    check_error(users.bob.delete(url(room, 2)), 403, "not_a_member")
    check_error(react(users.bob, room, 1, "👍"), 403, "not_a_member")


def test_the_edit_window(make_backend_app):
    app = make_backend_app({"EDIT_WINDOW": 60})
    people = callers(app)
    room = new_room(people.alice, "window")["id"]
    assert say(people.alice, room, "draft", "c1").status_code == 201
    store = app.extensions["chat.store"]
    assert edit(people.alice, room, 1, "draft, fixed").status_code == 200
    sent = store.clock()
    store.clock = lambda: sent + 61
    message = check_error(edit(people.alice, room, 1, "too late"), 403, "forbidden")
    assert "window has closed" in message and "60 seconds" in message
    assert people.alice.get(url(room, 1)).get_json()["message"]["text"] == "draft, fixed"
    # deleting and reacting are not limited by the window
    assert react(people.alice, room, 1, "👍").status_code == 200
    assert people.alice.delete(url(room, 1)).status_code == 204


# -- DELETE: delete --------------------------------------------------------------------------


def test_the_sender_deletes_and_the_text_is_served_nowhere(users, room):
    start = current_pos(users.alice) - 4  # before the room was made: a replay from there
    assert react(users.bob, room, 1, "👍").status_code == 200
    assert edit(users.alice, room, 1, "first, edited").status_code == 200
    before = current_pos(users.alice)
    assert users.alice.delete(url(room, 1)).status_code == 204
    assert current_pos(users.alice) == before + 1
    tombstone = users.bob.get(url(room, 1)).get_json()["message"]
    assert tombstone["deleted"] is True and tombstone["text"] == ""
    assert not {"reactions", "edited_at", "file"} & set(tombstone)
    assert {"id", "room", "seq", "pos", "sender", "ts", "client_id"} <= set(tombstone)
    assert users.bob.get(url(room)).get_json()["messages"][0] == tombstone
    for name in ("alice", "bob"):
        raw = getattr(users, name).get(f"/api/events?after={start}").get_data()
        assert b"first, from alice" not in raw and b"first, edited" not in raw
        replay = orjson.loads(raw)["events"]
        kinds = [(e["type"], e["message"]) for e in replay if "message" in e and e["message"]["seq"] == 1]
        assert kinds[0] == ("message", tombstone)  # the replayed message event is the tombstone
        assert all(message == tombstone for _, message in kinds) and len(kinds) == 4
    # again: 204, nothing new
    after = current_pos(users.alice)
    assert users.alice.delete(url(room, 1)).status_code == 204
    assert current_pos(users.alice) == after


def test_who_may_delete(users, room):
    check_error(users.bob.delete(url(room, 1)), 403, "forbidden")  # alice's, alice's room
    check_error(users.carol.delete(url(room, 2)), 403, "forbidden")
    assert users.alice.delete(url(room, 2)).status_code == 204  # the room's creator: bob's message
    check_error(users.alice.delete(url(room, 3)), 404, "not_found")
    dm = users.alice.post("/api/dms", {"username": "bob"}).get_json()["room"]["id"]
    assert say(users.bob, dm, "in a DM", "d1").status_code == 201
    check_error(users.alice.delete(url(dm, 1)), 403, "forbidden")  # a DM has no owner
    assert users.bob.delete(url(dm, 1)).status_code == 204


# -- reactions -------------------------------------------------------------------------------


def test_reactions_add_and_remove(users, room):
    answer = react(users.bob, room, 1, "👍")
    assert answer.status_code == 200
    assert answer.get_json()["message"]["reactions"] == [{"emoji": "👍", "users": ["bob"]}]
    before = current_pos(users.alice)
    assert react(users.bob, room, 1, "👍").get_json()["message"]["reactions"][0]["users"] == ["bob"]
    assert current_pos(users.alice) == before  # again: no change
    react(users.alice, room, 1, ":tada:")
    answer = react(users.alice, room, 1, "👍")
    assert answer.get_json()["message"]["reactions"] == [
        {"emoji": "👍", "users": ["bob", "alice"]},
        {"emoji": ":tada:", "users": ["alice"]},
    ]
    react(users.bob, room, 1, "👍", add=False)
    react(users.alice, room, 1, "👍", add=False)
    answer = react(users.alice, room, 1, "👍", add=False)  # absent: no change
    assert answer.status_code == 200
    assert answer.get_json()["message"]["reactions"] == [{"emoji": ":tada:", "users": ["alice"]}]
    react(users.bob, room, 1, "👍")  # back, now after :tada:
    assert [r["emoji"] for r in users.carol.get(url(room, 1)).get_json()["message"]["reactions"]] == [
        ":tada:",
        "👍",
    ]
    react(users.alice, room, 1, ":tada:", add=False)
    react(users.bob, room, 1, "👍", add=False)
    assert "reactions" not in users.carol.get(url(room, 1)).get_json()["message"]


GOOD_EMOJI = ["👍", "👍🏽", "❤️", "👨‍👩‍👧", "🇫🇷", "1️⃣", "©️", ":+1:", ":thumbs_up:", ":e-mail:", "→"]
BAD_EMOJI = [
    "ok",
    "a",
    "+1",
    ":",
    "::",
    ":a b:",
    ":no",
    "no:",
    "👍 👍",
    "👍\n",
    "\x07",
    "\u3000",
    "👍" * 33,
    "%20",
]


@pytest.mark.parametrize("emoji", GOOD_EMOJI)
def test_emoji_that_are_allowed(users, room, emoji):
    answer = react(users.bob, room, 2, emoji)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["message"]["reactions"] == [{"emoji": emoji, "users": ["bob"]}]


@pytest.mark.parametrize("emoji", BAD_EMOJI)
def test_emoji_that_are_refused(users, room, emoji):
    from urllib.parse import quote

    for add in (True, False):
        answer = users.bob.request("PUT" if add else "DELETE", url(room, 2, quote(emoji, safe="")))
        check_error(answer, 422, "validation_error")


def test_at_most_20_distinct_emoji(users, room):
    for n in range(20):
        assert react(users.bob, room, 1, f":e{n}:").status_code == 200
    check_error(react(users.bob, room, 1, ":one_more:"), 422, "validation_error")
    assert react(users.alice, room, 1, ":e3:").status_code == 200  # another person on one of them
    react(users.bob, room, 1, ":e0:", add=False)
    assert react(users.bob, room, 1, ":one_more:").status_code == 200


def test_reaction_refusals(users, room):
    check_error(react(users.carol, room, 1, "👍"), 403, "not_a_member")  # public, not joined
    check_error(react(users.bob, room, 9, "👍"), 404, "not_found")
    assert users.alice.delete(url(room, 1)).status_code == 204
    check_error(react(users.bob, room, 1, "👍"), 404, "not_found")
    check_error(react(users.bob, room, 1, "👍", add=False), 404, "not_found")


# -- events, rate limit, restart ---------------------------------------------------------------


def test_every_change_is_an_update_event_for_the_rooms_members(users, room, private):
    start = current_pos(users.alice)
    edit(users.alice, private, 1, "nothing to see")
    react(users.bob, private, 1, ":eyes:")
    users.alice.delete(url(private, 1))
    for name in ("alice", "bob"):
        got = events(getattr(users, name), start)
        assert [e["type"] for e in got] == ["update"] * 3
        assert [e["pos"] for e in got] == [start + 1, start + 2, start + 3]
        assert all(e["message"]["deleted"] and e["message"]["text"] == "" for e in got)
    assert events(users.carol, start) == []


def test_edits_and_reactions_count_against_the_message_rate(make_backend_app):
    app = make_backend_app({"MESSAGE_BURST": 2, "MESSAGE_RATE": 0.001})
    people = callers(app)
    room = new_room(people.alice, "limited")["id"]
    assert say(people.alice, room, "one", "c1").status_code == 201
    assert edit(people.alice, room, 1, "one, fixed").status_code == 200
    check_error(react(people.alice, room, 1, "👍"), 429, "rate_limited")
    assert people.alice.delete(url(room, 1)).status_code == 204  # deleting is never held back


def test_changes_survive_a_restart(make_backend_app):
    app = make_backend_app()
    people = callers(app)
    room = new_room(people.alice, "durable", members=["bob"])["id"]
    for n in range(1, 4):
        assert say(people.alice, room, f"message {n}", f"c{n}").status_code == 201
    edit(people.alice, room, 1, "message 1, edited")
    react(people.bob, room, 2, "👍")
    people.alice.delete(url(room, 3))
    page = people.bob.get(url(room)).get_json()
    feed = people.bob.get("/api/events?after=0").get_data()
    bob = callers(restart(app)).bob
    assert bob.get(url(room)).get_json() == page
    assert bob.get("/api/events?after=0").get_data() == feed
    assert b"message 3" not in feed

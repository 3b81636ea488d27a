"""Who may do what: every HTTP route and WebSocket frame, for every kind of caller and room.

Callers: the room's ``owner`` (its creator), a ``member`` the owner added, an ``outsider`` (signed
in, not a member) and ``anon`` (no cookie). Rooms: a public group, a private group and a DM. The
tables below give the contract's exact answer for each pair:

- public rooms are readable by anyone signed in; posting needs membership (403 ``not_a_member``);
- private rooms and DMs do not exist for non-members: 404 ``not_found`` on every path;
- signed out, every route but sign-in, sign-out and the OpenAPI document is 401 ``unauthenticated``;
- nobody can be added to a DM or leave one: 403 ``forbidden``; one can only remove oneself.

Cases that change membership get a fresh outsider, target or room, so no row depends on another.
"""

from __future__ import annotations

import json
import uuid
from contextlib import ExitStack

import pytest
import requests
from websockets.exceptions import InvalidStatus

from tests.live_http import make_room, open_dm, post, sign_in, unique
from tests.ws_client import Client, ws_connect

pytestmark = pytest.mark.live

KINDS = ("public", "private", "dm")
ACTORS = ("owner", "member", "outsider", "anon")


class World:
    """An owner and a member sharing one room of each kind, and a supply of fresh users."""

    def __init__(self, url: str):
        self.url = url
        self.owner = self.user("owner")
        self.member = self.user("member")
        self.outsider = self.user("outsider")  # for cases that change nothing
        self.rooms = {kind: self.room(kind) for kind in KINDS}

    def user(self, name: str) -> requests.Session:
        """A newly registered, signed-in user."""
        return sign_in(self.url, unique(name), status=(201,))

    def room(self, kind: str) -> str:
        """A new room of ``kind`` made by the owner with the member in it (a DM: the pair's one)."""
        if kind == "dm":
            return open_dm(self.owner, self.member)
        return make_room(self.owner, [self.member], kind, f"{kind} room")

    def actor(self, name: str) -> requests.Session:
        """The session of ``name``; a fresh outsider each time, and no cookie at all for anon."""
        if name == "anon":
            session = requests.Session()
            session.username = f"nobody-{uuid.uuid4().hex[:8]}"
            return session
        if name == "outsider":
            return self.user("outsider")
        return getattr(self, name)


@pytest.fixture(scope="module")
def world(live_module) -> World:
    """The shared cast and rooms."""
    return World(live_module.url)


def row(table: dict[str, tuple]) -> list:
    """Parameters for every (kind, actor) cell of ``table``: kind -> four expected answers."""
    return [
        pytest.param(kind, actor, expected, id=f"{kind}-{actor}")
        for kind, answers in table.items()
        for actor, expected in zip(ACTORS, answers, strict=True)
    ]


def expect(answer: requests.Response, expected: tuple[int, str | None]) -> None:
    """The answer has the expected status, and the expected error code when it is an error."""
    status, code = expected
    assert answer.status_code == status, answer.text
    if code is not None:
        assert answer.json()["error"]["code"] == code, answer.text


OK = (200, None)
CREATED = (201, None)
GONE = (204, None)
UNAUTH = (401, "unauthenticated")
HIDDEN = (404, "not_found")
NOT_MEMBER = (403, "not_a_member")
FORBIDDEN = (403, "forbidden")

READ = {"public": (OK, OK, OK, UNAUTH), "private": (OK, OK, HIDDEN, UNAUTH), "dm": (OK, OK, HIDDEN, UNAUTH)}
POST_MESSAGE = {
    "public": (CREATED, CREATED, NOT_MEMBER, UNAUTH),
    "private": (CREATED, CREATED, HIDDEN, UNAUTH),
    "dm": (CREATED, CREATED, HIDDEN, UNAUTH),
}
ADD_OTHER = {
    "public": (OK, OK, NOT_MEMBER, UNAUTH),
    "private": (OK, OK, HIDDEN, UNAUTH),
    "dm": (FORBIDDEN, FORBIDDEN, HIDDEN, UNAUTH),
}
# Adding oneself: a public room is joined; already being a member answers 200 and changes nothing.
JOIN_SELF = {
    "public": (OK, OK, OK, UNAUTH),
    "private": (OK, OK, HIDDEN, UNAUTH),
    "dm": (OK, OK, HIDDEN, UNAUTH),
}
LEAVE_SELF = {
    "public": (GONE, GONE, NOT_MEMBER, UNAUTH),
    "private": (GONE, GONE, HIDDEN, UNAUTH),
    "dm": (FORBIDDEN, FORBIDDEN, HIDDEN, UNAUTH),
}
REMOVE_OTHER = {
    "public": (FORBIDDEN, FORBIDDEN, FORBIDDEN, UNAUTH),
    "private": (FORBIDDEN, FORBIDDEN, HIDDEN, UNAUTH),
    "dm": (FORBIDDEN, FORBIDDEN, HIDDEN, UNAUTH),
}


@pytest.mark.parametrize(("kind", "actor", "expected"), row(READ))
def test_get_room(world, kind, actor, expected):
    answer = world.actor(actor).get(f"{world.url}/api/rooms/{world.rooms[kind]}", timeout=10)
    expect(answer, expected)
    if expected == OK:
        assert answer.json()["room"]["member"] is (actor in ("owner", "member"))


@pytest.mark.parametrize(("kind", "actor", "expected"), row(READ))
def test_get_history(world, kind, actor, expected):
    answer = world.actor(actor).get(f"{world.url}/api/rooms/{world.rooms[kind]}/messages", timeout=10)
    expect(answer, expected)


@pytest.mark.parametrize(("kind", "actor", "expected"), row(POST_MESSAGE))
def test_post_message(world, kind, actor, expected):
    answer = world.actor(actor).post(
        f"{world.url}/api/rooms/{world.rooms[kind]}/messages",
        json={"text": f"from {actor}", "client_id": uuid.uuid4().hex},
        timeout=10,
    )
    expect(answer, expected)


@pytest.mark.parametrize(("kind", "actor", "expected"), row(ADD_OTHER))
def test_add_someone_else(world, kind, actor, expected):
    target = world.user("target")
    room = world.rooms[kind]
    answer = world.actor(actor).post(
        f"{world.url}/api/rooms/{room}/members", json={"username": target.username}, timeout=10
    )
    expect(answer, expected)
    # The target is in the room exactly when the answer was 200.
    sees = target.get(f"{world.url}/api/rooms/{room}", timeout=10)
    in_room = sees.status_code == 200 and sees.json()["room"]["member"]
    assert in_room is (expected == OK)


@pytest.mark.parametrize(("kind", "actor", "expected"), row(JOIN_SELF))
def test_join_yourself(world, kind, actor, expected):
    session = world.actor(actor)
    room = world.rooms[kind]
    answer = session.post(
        f"{world.url}/api/rooms/{room}/members", json={"username": session.username}, timeout=10
    )
    expect(answer, expected)
    if expected == OK:
        assert session.username in answer.json()["room"]["members"]


@pytest.mark.parametrize(("kind", "actor", "expected"), row(LEAVE_SELF))
def test_leave(world, kind, actor, expected):
    room = world.rooms["dm"] if kind == "dm" else world.room(kind)  # leaving changes the room
    session = world.actor(actor)
    answer = session.delete(f"{world.url}/api/rooms/{room}/members/{session.username}", timeout=10)
    expect(answer, expected)
    if expected == GONE:
        after = session.get(f"{world.url}/api/rooms/{room}", timeout=10)
        if kind == "private":
            expect(after, HIDDEN)  # gone for good once out of it
        else:
            assert after.json()["room"]["member"] is False


@pytest.mark.parametrize(("kind", "actor", "expected"), row(REMOVE_OTHER))
def test_remove_someone_else(world, kind, actor, expected):
    victim = world.member if actor != "member" else world.owner
    answer = world.actor(actor).delete(
        f"{world.url}/api/rooms/{world.rooms[kind]}/members/{victim.username}", timeout=10
    )
    expect(answer, expected)
    members = world.owner.get(f"{world.url}/api/rooms/{world.rooms[kind]}", timeout=10).json()["room"][
        "members"
    ]
    assert victim.username in members


# One message after it is sent. The owner edits only their own; deleting is for its sender or the
# creator of a group room (in a DM each deletes only their own); reacting needs membership.
EDIT_OWNERS = {
    "public": (OK, FORBIDDEN, FORBIDDEN, UNAUTH),
    "private": (OK, FORBIDDEN, HIDDEN, UNAUTH),
    "dm": (OK, FORBIDDEN, HIDDEN, UNAUTH),
}
DELETE_MEMBERS = {
    "public": (GONE, GONE, FORBIDDEN, UNAUTH),
    "private": (GONE, GONE, HIDDEN, UNAUTH),
    "dm": (FORBIDDEN, GONE, HIDDEN, UNAUTH),
}
REACT = {
    "public": (OK, OK, NOT_MEMBER, UNAUTH),
    "private": (OK, OK, HIDDEN, UNAUTH),
    "dm": (OK, OK, HIDDEN, UNAUTH),
}


def message_of(world: World, sender: requests.Session, kind: str) -> str:
    """A new message of ``sender`` in the room of ``kind``; its URL."""
    room = world.rooms[kind]
    answer = sender.post(
        f"{world.url}/api/rooms/{room}/messages",
        json={"text": "hello", "client_id": uuid.uuid4().hex},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return f"{world.url}/api/rooms/{room}/messages/{answer.json()['message']['seq']}"


@pytest.mark.parametrize(("kind", "actor", "expected"), row(READ))
def test_get_one_message(world, kind, actor, expected):
    expect(world.actor(actor).get(message_of(world, world.owner, kind), timeout=10), expected)


@pytest.mark.parametrize(("kind", "actor", "expected"), row(EDIT_OWNERS))
def test_edit_the_owners_message(world, kind, actor, expected):
    url = message_of(world, world.owner, kind)
    expect(world.actor(actor).patch(url, json={"text": f"edited by {actor}"}, timeout=10), expected)


@pytest.mark.parametrize(("kind", "actor", "expected"), row(DELETE_MEMBERS))
def test_delete_the_members_message(world, kind, actor, expected):
    url = message_of(world, world.member, kind)
    expect(world.actor(actor).delete(url, timeout=10), expected)
    deleted = world.member.get(url, timeout=10).json()["message"].get("deleted", False)
    assert deleted is (expected == GONE)


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
@pytest.mark.parametrize(("kind", "actor", "expected"), row(REACT))
def test_react(world, kind, actor, expected, method):
    url = message_of(world, world.owner, kind) + "/reactions/%F0%9F%91%8D"
    expect(world.actor(actor).request(method, url, timeout=10), expected)


SIGNED_IN_ONLY = [
    ("GET", "/api/session", None, OK),
    ("GET", "/api/users", None, OK),
    ("GET", "/api/rooms", None, OK),
    ("POST", "/api/rooms", {"name": "made"}, CREATED),
    ("GET", "/api/events", None, OK),
    ("GET", "/api/events?after=0", None, OK),
]


@pytest.mark.parametrize(("method", "path", "body", "expected"), SIGNED_IN_ONLY, ids=lambda v: str(v))
@pytest.mark.parametrize("actor", ["outsider", "anon"])
def test_routes_without_a_room(world, actor, method, path, body, expected):
    answer = world.actor(actor).request(method, world.url + path, json=body, timeout=10)
    expect(answer, expected if actor != "anon" else UNAUTH)


@pytest.mark.parametrize("actor", ["outsider", "anon"])
def test_open_a_dm(world, actor):
    answer = world.actor(actor).post(
        f"{world.url}/api/dms", json={"username": world.owner.username}, timeout=10
    )
    expect(answer, CREATED if actor != "anon" else UNAUTH)


@pytest.mark.parametrize("actor", ACTORS)
def test_routes_open_to_everyone(world, actor):
    """Signing out (even twice or without a session), the limits and the OpenAPI document need no cookie."""
    session = world.user("leaver") if actor != "anon" else world.actor("anon")
    expect(session.get(f"{world.url}/api/openapi.json", timeout=10), OK)
    expect(session.get(f"{world.url}/api/limits", timeout=10), OK)
    expect(session.delete(f"{world.url}/api/session", timeout=10), GONE)
    expect(session.get(f"{world.url}/api/session", timeout=10), UNAUTH)


def test_room_lists_show_public_rooms_to_all_and_hide_the_rest(world):
    """GET /api/rooms: members see all three with member true; an outsider sees only the public one."""
    for session, expected in (
        (world.owner, {kind: True for kind in KINDS}),
        (world.member, {kind: True for kind in KINDS}),
        (world.outsider, {"public": False}),
    ):
        listed = {
            r["id"]: r["member"] for r in session.get(f"{world.url}/api/rooms", timeout=10).json()["rooms"]
        }
        mine = {kind: listed[room] for kind, room in world.rooms.items() if room in listed}
        assert mine == expected


def test_event_feed_carries_only_what_concerns_the_caller(world):
    """GET /api/events: messages of one's rooms; of others, only the creation of public rooms."""
    for kind in KINDS:
        post(world.owner, world.rooms[kind], f"feed {kind}")
    ours = set(world.rooms.values())
    for session, see in ((world.member, ours), (world.outsider, set())):
        events = session.get(f"{world.url}/api/events", params={"after": 0}, timeout=10).json()["events"]
        message_rooms = {e["message"]["room"] for e in events if e["type"] == "message"} & ours
        assert message_rooms == see
        room_events = {(e["room"]["id"], e["action"]) for e in events if e["type"] == "room"}
        if session is world.outsider:
            assert {r for r, _ in room_events} & ours == {world.rooms["public"]}
            assert room_events & {(world.rooms["public"], "created")}


# -- the WebSocket --------------------------------------------------------------------------------


def about(client: Client, room: str) -> list[dict]:
    """Frames about ``room`` that arrive before the connection has been quiet for half a second."""
    return [frame for frame in client.quiet(0.5) if room_of(frame) == room]


def room_of(frame: dict) -> str | None:
    """The room a server frame is about, if any."""
    if isinstance(frame.get("room"), str):
        return frame["room"]
    if isinstance(frame.get("room"), dict):
        return frame["room"].get("id")
    if isinstance(frame.get("message"), dict):
        return frame["message"].get("room")
    return None


# What an outsider's send or typing gets in each kind of room.
WS_OUTSIDER = {"public": "not_a_member", "private": "not_found", "dm": "not_found"}


@pytest.mark.parametrize("kind", KINDS)
def test_websocket_frames_by_caller(world, kind):
    """send and typing work for owner and member; an outsider gets the HTTP code and hears nothing."""
    room = world.rooms[kind]
    with ExitStack() as stack:
        owner = Client(stack, world.owner)
        member = Client(stack, world.member)
        outsider = Client(stack, world.outsider)

        owner.send({"type": "typing", "room": room})
        typing = member.until(lambda f: f["type"] == "typing")
        assert typing == {"type": "typing", "room": room, "user": world.owner.username}

        for sender, listener, who in ((owner, member, world.owner), (member, owner, world.member)):
            client_id = uuid.uuid4().hex
            sender.send({"type": "send", "room": room, "text": "hello", "client_id": client_id})
            ack = sender.until(
                lambda f, c=client_id: f["type"] in ("ack", "error") and f.get("client_id") == c
            )
            assert ack["type"] == "ack" and ack["message"]["sender"] == who.username, ack
            heard = listener.until(
                lambda f, a=ack: f["type"] == "message" and f["message"]["id"] == a["message"]["id"]
            )
            assert heard["message"]["room"] == room

        if kind != "dm":  # a room event reaches members: someone is added
            target = world.user("added")
            added = world.owner.post(
                f"{world.url}/api/rooms/{room}/members", json={"username": target.username}, timeout=10
            )
            assert added.status_code == 200, added.text
            event = member.until(lambda f: f["type"] == "room" and f["room"]["id"] == room)
            assert target.username in event["room"]["members"]

        for frame in (
            {"type": "send", "room": room, "text": "intrude", "client_id": "x1"},
            {"type": "typing", "room": room, "client_id": "x2"},
        ):
            outsider.send(frame)
            error = outsider.until(lambda f: f["type"] == "error")
            assert error["error"]["code"] == WS_OUTSIDER[kind], (frame, error)
        heard = about(outsider, room)
        assert heard == [], heard  # no message, typing or room event of a room one is not in


def test_websocket_handshake_needs_a_session(world):
    """Signed out, /ws is 401 before anything is sent."""
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(world.url, None)
    assert refused.value.response.status_code == 401
    assert json.loads(refused.value.response.body)["error"]["code"] == "unauthenticated"


def test_an_outsider_hears_public_rooms_being_created_and_nothing_private(world):
    """Creation of a public room reaches everyone; a private room's and a DM's reach only members."""
    with ExitStack() as stack:
        outsider = Client(stack, world.outsider)
        private = world.room("private")
        public = world.room("public")
        event = outsider.until(lambda f: f["type"] == "room")
        assert event["room"]["id"] == public, event  # the private room, made first, never arrived
        assert about(outsider, private) == []


def test_a_member_who_leaves_a_private_room_hears_no_more_of_it(world):
    """After leaving, the room is gone for them on /ws as on HTTP: no events, and send is not_found."""
    leaver = world.user("leaver")
    room = make_room(world.owner, [leaver], name="soon left")
    with ExitStack() as stack:
        ws = Client(stack, leaver)
        gone = leaver.delete(f"{world.url}/api/rooms/{room}/members/{leaver.username}", timeout=10)
        assert gone.status_code == 204
        left = ws.until(lambda f: f["type"] == "room" and f["room"]["id"] == room)
        assert leaver.username not in left["room"]["members"]  # the event that removes them arrives
        post(world.owner, room, "after")
        world.owner.post(
            f"{world.url}/api/rooms/{room}/members", json={"username": world.member.username}, timeout=10
        )
        ws.send({"type": "typing", "room": room})
        heard = []
        while (frame := ws.until(lambda f: True))["type"] != "error":
            heard.append(frame)
        assert frame["error"]["code"] == "not_found"
        heard += about(ws, room)
        assert [f for f in heard if room_of(f) == room] == []  # neither the message nor the new member
    expect(leaver.get(f"{world.url}/api/rooms/{room}/messages", timeout=10), HIDDEN)

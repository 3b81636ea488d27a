"""Fuzz ``/ws`` with hostile and random frames while a well-behaved user keeps chatting.

Each bad frame must get an ``error`` frame in the contract's shape on a connection that stays open,
or close the connection with the code RFC 6455 and the contract give for it (1009 for a frame over
64 KiB, 1007 for a text frame that is not UTF-8). Meanwhile a second user's connection, open from
the start, must stay open and still send and receive once the barrage is over.
"""

from __future__ import annotations

import json
import uuid
from contextlib import ExitStack

import hypothesis
import pytest
import requests
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.live_http import make_room, sign_in, unique
from tests.ws_client import Client, ws_connect

pytestmark = pytest.mark.live

MAX_FRAME = 65_536

ERROR_CODES = {
    "invalid_json",
    "validation_error",
    "unauthenticated",
    "forbidden",
    "not_a_member",
    "not_found",
    "payload_too_large",
    "rate_limited",
    "backend_unavailable",
}
SERVER_FRAMES = {"hello", "ack", "message", "room", "typing", "presence", "error"}


class Socket(Client):
    """A user's WebSocket whose every frame is checked against the contract as it is read."""

    def __init__(self, stack: ExitStack, user: requests.Session):
        super().__init__(stack, user, max_size=None)

    def check(self, frame: dict) -> None:
        """A JSON object of a type the contract names; an error frame in the contract's shape."""
        assert frame.get("type") in SERVER_FRAMES, frame
        if frame["type"] == "error":
            error = frame["error"]
            assert set(error) <= {"code", "message", "retry_after"}, frame
            assert error["code"] in ERROR_CODES and isinstance(error["message"], str), frame

    def fence(self) -> list[dict]:
        """Everything the server sent in answer to earlier frames: a marker frame's error ends it."""
        marker = "fence-" + uuid.uuid4().hex
        self.send({"type": "fence", "client_id": marker})
        before: list[dict] = []
        frame = self.until(lambda f: f["type"] == "error" and f.get("client_id") == marker, skipped=before)
        assert frame["error"]["code"] == "validation_error"
        return before

    def error(self) -> dict:
        """The next error frame (presence and typing may come first); the connection stays open."""
        return self.until(lambda f: f["type"] == "error")["error"]

    def close_code(self) -> int | None:
        """Read until the server closes the connection (it must); the code it closed with, if any."""
        with pytest.raises(ConnectionClosed) as closed:
            self.until(lambda f: False)
        return None if closed.value.rcvd is None else closed.value.rcvd.code


@pytest.fixture(scope="module")
def world(live_module):
    """An attacker and a bystander who share a room, each with an open WebSocket."""
    attacker = sign_in(live_module.url, unique("attacker"), status=(201,))
    bystander = sign_in(live_module.url, unique("bystander"), status=(201,))
    room = make_room(attacker, [bystander], name="fuzz")
    with ExitStack() as stack:
        yield {
            "attacker": attacker,
            "bystander": bystander,
            "room": room,
            "calm": Socket(stack, bystander),
            "stack": stack,
            "url": live_module.url,
        }


def hostile_frames(room: str) -> list[tuple[str, str | bytes]]:
    """(what, frame) pairs that must each get an error frame on a connection that stays open."""
    send = {"type": "send", "room": room, "text": "hello", "client_id": "c1"}
    frames: list[tuple[str, str | bytes]] = [
        ("binary", b"\x00\x01\x02"),
        ("binary JSON", json.dumps(send).encode()),
        ("empty", ""),
        ("not JSON", "hello"),
        ("truncated JSON", '{"type": "send", "room": '),
        ("deep arrays", "[" * 10_000 + "]" * 10_000),
        ("deep objects", '{"a":' * 10_000 + "1" + "}" * 10_000),
        (
            "deep inside a send",
            json.dumps({**send, "text": None})[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}",
        ),
        ("huge float", json.dumps(send).replace('"c1"', "1e400")),
        ("huge integer", json.dumps(send).replace('"c1"', str(2**4096))),
        ("huge float text", json.dumps(send).replace('"hello"', "-1e400")),
        ("NaN", json.dumps(send).replace('"hello"', "NaN")),
        ("lone surrogate", json.dumps(send).replace("hello", "\\ud800")),
        ("null", "null"),
        ("number", "42"),
        ("string", '"send"'),
        ("array", "[]"),
        ("array of a send", json.dumps([send])),
        ("object without type", json.dumps({"room": room})),
        ("unknown type", json.dumps({**send, "type": "delete"})),
        ("type of wrong case", json.dumps({**send, "type": "SEND"})),
        ("server frame type", json.dumps({**send, "type": "ack"})),
        ("typing without room", json.dumps({"type": "typing"})),
        ("typing to an unknown room", json.dumps({"type": "typing", "room": "r000000000000"})),
        ("send to an unknown room", json.dumps({**send, "room": "r000000000000"})),
        ("send to a path", json.dumps({**send, "room": "../../etc/passwd"})),
        ("send to an empty room id", json.dumps({**send, "room": ""})),
        ("empty text", json.dumps({**send, "text": ""})),
        ("blank text", json.dumps({**send, "text": " \n\t "})),
        ("text too long", json.dumps({**send, "text": "x" * 4001})),
        ("client_id too long", json.dumps({**send, "client_id": "c" * 65})),
        ("client_id with a slash", json.dumps({**send, "client_id": "../x"})),
        ("client_id empty", json.dumps({**send, "client_id": ""})),
    ]
    wrong = [None, 1, 1.5, True, [], {}, ["x"], {"a": "b"}]
    for field in ("type", "room", "text", "client_id"):
        for value in wrong:
            frames.append((f"send with {field}={value!r}", json.dumps({**send, field: value})))
        missing = {key: val for key, val in send.items() if key != field}
        frames.append((f"send without {field}", json.dumps(missing)))
    for value in wrong:
        frames.append((f"typing with room={value!r}", json.dumps({"type": "typing", "room": value})))
    return frames


def test_hostile_frames_get_error_frames_and_everyone_keeps_being_served(world):
    """Every hostile frame gets an error frame and the connection stays open; others are unaffected."""
    attacker = Socket(world["stack"], world["attacker"])
    failures = []
    for what, frame in hostile_frames(world["room"]):
        attacker.ws.send(frame)
        try:
            error = attacker.error()
        except (TimeoutError, ConnectionClosed) as exc:
            failures.append(f"{what}: no error frame ({exc!r})")
            attacker = Socket(world["stack"], world["attacker"])
            continue
        if error["code"] not in ("invalid_json", "validation_error", "not_found"):
            failures.append(f"{what}: error code {error['code']}")
    assert not failures, "\n".join(failures)
    assert attacker.fence() == []  # one error per frame: nothing more was pending
    _bystander_still_served(world, attacker)


def test_invalid_utf8_in_a_text_frame_closes_with_1007(world):
    """A text frame whose bytes are not UTF-8 breaks the protocol: close 1007, others unaffected."""
    attacker = Socket(world["stack"], world["attacker"])
    attacker.ws.send(b'{"type": "send", "text": "\xff\xfe\xc3"}', text=True)
    assert attacker.close_code() == 1007
    _bystander_still_served(world, Socket(world["stack"], world["attacker"]))


def test_a_frame_over_64_kib_closes_with_1009_and_one_of_64_kib_does_not(world):
    """64 KiB is the largest frame: one byte more closes that connection with 1009, nobody else's."""
    attacker = Socket(world["stack"], world["attacker"])
    padding = '{"type": "nothing", "pad": "' + "x" * MAX_FRAME
    at_limit = padding[: MAX_FRAME - 2] + '"}'
    assert len(at_limit.encode()) == MAX_FRAME
    attacker.ws.send(at_limit)
    assert attacker.error()["code"] == "validation_error"

    over = padding[: MAX_FRAME - 1] + '"}'
    assert len(over.encode()) == MAX_FRAME + 1
    attacker.ws.send(over)
    assert attacker.close_code() == 1009
    _bystander_still_served(world, Socket(world["stack"], world["attacker"]))


@pytest.mark.parametrize("char", ["\u00e9", "\u20ac", "\U0001f600"], ids=["2-byte", "3-byte", "4-byte"])
def test_the_64_kib_limit_counts_bytes_not_characters(world, char):
    """A frame of fewer than 65,536 characters but more than 64 KiB of UTF-8 also closes with 1009."""
    attacker = Socket(world["stack"], world["attacker"])
    count = MAX_FRAME - 64  # just under the limit in characters: up to four times over it in bytes
    frame = json.dumps({"type": "nothing", "pad": char * count}, ensure_ascii=False)
    assert len(frame) < MAX_FRAME < len(frame.encode())
    attacker.ws.send(frame)
    try:
        answer = attacker.until(lambda f: f["type"] == "error")
    except ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code == 1009
    else:
        pytest.fail(f"{len(frame.encode())} bytes were read and answered {answer}, not closed with 1009")
    _bystander_still_served(world, Socket(world["stack"], world["attacker"]))


def test_bad_handshake_cursors_are_refused_with_422(world):
    """``after`` that is not a non-negative integer is refused before the socket opens."""
    user = world["attacker"]
    for after in ("-1", "abc", "1e3", "", "9" * 40, "%00", "1%2F2"):
        with pytest.raises(InvalidStatus) as refused:
            ws_connect(user.base_url, user.token, after=after)
        assert refused.value.response.status_code == 422, after
        assert json.loads(refused.value.response.body)["error"]["code"] == "validation_error"


_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
_json = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@hypothesis.settings(
    max_examples=80, deadline=None, database=None, suppress_health_check=list(hypothesis.HealthCheck)
)
@hypothesis.given(data=st.data())
def test_random_frames_get_answers_in_the_contracts_shape(world, data):
    """Random frames, some nearly right: each gets an ack or an error frame, never a crash."""
    if "random" not in world:  # one socket for every example
        world["random"] = Socket(world["stack"], world["attacker"])
    attacker = world["random"]
    room = world["room"]
    client_ids = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)
    frame = data.draw(
        st.one_of(
            _json,
            st.builds(
                lambda text, client_id: {"type": "send", "room": room, "text": text, "client_id": client_id},
                st.text(max_size=60),
                client_ids,
            ),
            st.fixed_dictionaries(
                {"type": st.sampled_from(["send", "typing", "join", ""])},
                optional={
                    "room": st.one_of(st.just(room), _json),
                    "text": st.one_of(st.text(min_size=1, max_size=50), _json),
                    "client_id": st.one_of(client_ids, _json),
                },
            ),
        )
    )
    attacker.ws.send(json.dumps(frame))
    for answer in attacker.fence():
        assert answer["type"] in ("ack", "error", "message", "typing", "presence", "room"), answer
        if answer["type"] == "ack":
            assert isinstance(frame, dict) and answer["client_id"] == frame["client_id"]
            # A repeated client_id is acked with the message first stored under it.
            stored = world.setdefault("stored", {}).setdefault(frame["client_id"], frame["text"])
            assert answer["message"]["text"] == stored and answer["message"]["room"] == room


def _bystander_still_served(world: dict, attacker: Socket) -> None:
    """The bystander's connection, open since the start, still sends and receives."""
    calm: Socket = world["calm"]
    marker = "still-here-" + uuid.uuid4().hex[:8]
    calm.send({"type": "send", "room": world["room"], "text": marker, "client_id": marker})
    ack = calm.until(lambda f: f["type"] == "ack" and f["client_id"] == marker)
    assert ack["message"]["text"] == marker
    attacker.until(lambda f: f["type"] == "message" and f["message"]["text"] == marker)
    reply = "reply-" + uuid.uuid4().hex[:8]
    attacker.send({"type": "send", "room": world["room"], "text": reply, "client_id": reply})
    got = calm.until(lambda f: f["type"] == "message" and f["message"]["text"] == reply)
    assert got["message"]["sender"] == world["attacker"].username
    health = requests.get(f"{world['url']}/healthz", timeout=5).json()
    assert health == {"status": "ok", "backend": "ok"}

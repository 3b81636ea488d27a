"""Unit tests of the hub: fan-out rules, ordering, slow consumers, catch-up, typing, presence, polls.

Real :class:`Hub` and :class:`Connection` objects, no network: a connection's queue is read the
way its writer would read it, and time is a settable clock.
"""

from __future__ import annotations

import threading
import time

import orjson
import pytest

from common.feed import EVERYONE, token_digest
from common.limits import EVENTS_BATCH
from tests.hub_helpers import drain, positions
from tests.timing import Clock, wait_for
from webserver import polling
from webserver.connection import CLOSE_TRY_AGAIN, LINGER, WRITE_BATCH, Connection, retire_idle_writers
from webserver.hub import HELD_AT_MOST, Hub
from webserver.presence import OFFLINE_GRACE

R1 = ["alice", "bob"]  # who the events of room r1 concern, as the backend would say


def room(rid: str, members: list[str], visibility: str = "private") -> dict:
    return {"id": rid, "name": rid, "kind": "group", "visibility": visibility, "members": members}


def message(pos: int, rid: str, sender: str = "alice") -> dict:
    return {
        "type": "message",
        "pos": pos,
        "message": {"room": rid, "pos": pos, "sender": sender, "text": "hi"},
    }


def room_event(pos: int, rid: str, members: list[str], action: str, user: str, visibility: str = "private"):
    return {
        "type": "room",
        "pos": pos,
        "room": room(rid, members, visibility),
        "action": action,
        "user": user,
    }


@pytest.fixture
def hub(clock: Clock) -> Hub:
    hub = Hub(clock=clock)
    hub.load([room("r1", ["alice", "bob"]), room("pub", ["alice"], "public")], pos=10)
    return hub


def connect(hub: Hub, user: str, token: str | None = None, after: int | None = None, **kw) -> Connection:
    conn = Connection(user, token or f"t-{user}", **kw)
    hub.register(conn, {"username": user}, after)
    return conn


def test_hello_comes_first_with_the_hubs_pos(hub: Hub) -> None:
    conn = connect(hub, "alice")
    assert drain(conn)[0] == {"type": "hello", "user": {"username": "alice"}, "pos": 10}


def test_messages_go_to_every_connection_of_every_member_and_no_one_else(hub: Hub) -> None:
    a1, a2, b, carol = (
        connect(hub, "alice"),
        connect(hub, "alice"),
        connect(hub, "bob"),
        connect(hub, "carol"),
    )
    assert hub.apply(message(11, "r1"), R1) == 3
    assert [positions(c) for c in (a1, a2, b, carol)] == [[11], [11], [11], []]


def test_everyone_means_every_connected_user_and_parked_poll(hub: Hub) -> None:
    alice, carol = connect(hub, "alice"), connect(hub, "carol")
    dave = hub.park("dave", 10)
    hub.apply(room_event(11, "new-pub", ["alice"], "created", "alice", "public"), EVERYONE)
    hub.apply(room_event(12, "new-priv", ["alice"], "created", "alice"), ["alice"])
    assert positions(alice) == [11, 12]
    assert positions(carol) == [11]
    assert [e["pos"] for e in answer(hub, dave)["events"]] == [11]


def test_delivery_follows_the_backends_audience_and_room_events_update_the_room_map(hub: Hub) -> None:
    carol = connect(hub, "carol")  # opened before carol is in any private room
    hub.apply(message(11, "r1"), R1)
    hub.apply(room_event(12, "r1", ["alice", "bob", "carol"], "added", "carol"), [*R1, "carol"])
    assert hub.room("r1") == (False, {"alice", "bob", "carol"})
    hub.apply(message(13, "r1"), [*R1, "carol"])
    hub.apply(room_event(14, "r1", ["alice", "bob"], "left", "carol"), [*R1, "carol"])
    hub.apply(message(15, "r1"), R1)
    assert positions(carol) == [12, 13, 14]
    assert hub.room("r1") == (False, {"alice", "bob"})


def test_an_event_of_any_type_goes_to_exactly_its_users(hub: Hub) -> None:
    alice, bob, carol = connect(hub, "alice"), connect(hub, "bob"), connect(hub, "carol")
    poll = hub.park("bob", 10)
    new_kind = {"type": "sparkle", "pos": 11, "room": "r1", "seq": 3}  # a kind the hub has never seen
    assert hub.apply(new_kind, ["bob"]) == 2
    assert [f for f in drain(bob) if f["type"] == "sparkle"] == [new_kind]
    assert answer(hub, poll)["events"] == [new_kind]
    assert [f for f in drain(alice) + drain(carol) if f["type"] == "sparkle"] == []
    assert hub.room("r1") == (False, {"alice", "bob"})  # a room id is not a room object


def test_old_and_repeated_positions_are_dropped(hub: Hub) -> None:
    alice = connect(hub, "alice")
    for pos in (11, 11, 9, 12, 12, 10):
        hub.apply(message(pos, "r1"), R1)
    assert positions(alice) == [11, 12]
    assert hub.pos == 12


def test_events_handed_over_ahead_of_the_log_go_out_only_in_order(hub: Hub) -> None:
    alice = connect(hub, "alice")
    assert hub.apply_ahead([(message(11, "r1"), R1), (message(12, "pub"), EVERYONE)]) == 2  # the next ones
    assert hub.apply_ahead([(message(14, "r1"), R1)]) == 0  # 13 is not here yet: 14 is held
    assert positions(alice) == [11, 12]
    assert hub.apply_ahead([(message(13, "r1"), R1)]) == 2  # an earlier answer came late: both go
    for pos in (11, 12, 13, 14):  # the log brings what was handed over too: not twice
        hub.apply(message(pos, "r1"), R1)
    assert hub.apply_ahead([(message(14, "r1"), R1)]) == 0
    assert positions(alice) == [13, 14]
    assert hub.pos == 14


def test_a_held_event_goes_out_when_the_log_brings_the_one_before_it(hub: Hub) -> None:
    alice = connect(hub, "alice")
    hub.apply_ahead([(message(13, "r1"), R1), (message(15, "r1"), R1)])
    for pos in (11, 12):
        hub.apply(message(pos, "r1"), R1)
    assert positions(alice) == [11, 12, 13]  # 15 waits for 14
    for pos in (13, 14, 15, 16):  # the log brings them all; none goes out twice
        hub.apply(message(pos, "r1"), R1)
    assert positions(alice) == [14, 15, 16]


def test_a_hub_holds_a_bounded_number_of_events_ahead(hub: Hub) -> None:
    alice = connect(hub, "alice")
    far = [(message(pos, "r1"), R1) for pos in range(12, 12 + HELD_AT_MOST + 10)]
    assert hub.apply_ahead(far) == 0
    assert hub.apply_ahead([(message(11, "r1"), R1)]) == 1 + HELD_AT_MOST
    assert positions(alice) == list(range(11, 12 + HELD_AT_MOST))  # the rest is the log's to bring


def test_nothing_goes_out_ahead_of_the_log_before_the_rooms_are_loaded(clock: Clock) -> None:
    hub = Hub(clock=clock)
    assert hub.apply_ahead([(message(1, "r1"), R1)]) == 0 and hub.pos == 0


def test_a_broadcast_frame_is_encoded_once(hub: Hub) -> None:
    conns = [connect(hub, user) for user in ("alice", "alice", "bob")]
    for conn in conns:
        drain(conn)
    hub.apply(message(11, "r1"), R1)
    frames = [conn.next_frames(1)[0] for conn in conns]
    assert all(frame is frames[0] for frame in frames)  # the very same str object


def test_a_slow_consumer_is_closed_and_the_others_carry_on(hub: Hub) -> None:
    aborted = []
    slow = connect(hub, "alice", limit=5, abort=lambda: aborted.append(True))
    fast = connect(hub, "bob")
    for pos in range(11, 31):
        hub.apply(message(pos, "r1"), R1)
        drain(fast)
    assert slow.closed and slow.close_code == CLOSE_TRY_AGAIN
    assert aborted == [True]
    assert slow.pending() == 0  # its queue is dropped, so memory is given back
    hub.apply(message(31, "r1"), R1)
    assert positions(fast) == [31]


class Loop:
    """What a connection's ``spawn`` gets under gevent: a writer that starts later, once the code
    that queued frames yields. ``turn()`` starts the writers due since the last turn, each in a
    thread of its own (a writer waits for frames between bursts)."""

    def __init__(self) -> None:
        self.due: list = []
        self.threads: list[threading.Thread] = []

    def spawn(self, writer) -> None:
        self.due.append(writer)

    def turn(self) -> int:
        due, self.due = self.due, []
        for writer in due:
            thread = threading.Thread(target=writer, daemon=True)
            thread.start()
            self.threads.append(thread)
        return len(due)

    def ended(self) -> bool:
        """Whether every writer started so far has ended."""
        return all(not thread.is_alive() for thread in self.threads)


def attached(conn: Connection, loop: Loop) -> tuple[list[list[str]], list[tuple[int, str]]]:
    """Give ``conn`` a socket that records each write (a list of frames) and the close."""
    writes: list[list[str]] = []
    closed: list[tuple[int, str]] = []
    conn.attach(
        lambda frames: writes.append(list(frames)), lambda code, why: closed.append((code, why)), loop.spawn
    )
    return writes, closed


def kinds(write: list[str]) -> list[str]:
    return [orjson.loads(frame)["type"] for frame in write]


def test_a_burst_reaches_each_socket_in_one_write(hub: Hub) -> None:
    loop = Loop()
    alice, bob = connect(hub, "alice"), connect(hub, "bob")
    (alice_writes, _), (bob_writes, _) = attached(alice, loop), attached(bob, loop)
    for pos in range(11, 16):  # a page of the log, applied in one go
        hub.apply(message(pos, "r1"), R1, burst=True)
    assert len(loop.due) == 2  # one writer per connection for the whole burst, not one per frame
    loop.turn()
    assert wait_for(lambda: alice_writes and bob_writes, 5)
    for writes in (alice_writes, bob_writes):
        assert len(writes) == 1  # hello, presence and five messages in one socket write
        order = [f["pos"] for f in map(orjson.loads, writes[0]) if f["type"] == "message"]
        assert order == [11, 12, 13, 14, 15]
    hub.apply(message(16, "r1"), R1)  # the next message wakes the waiting writers: none started
    assert wait_for(lambda: len(alice_writes) == 2 and len(bob_writes) == 2, 5)
    assert loop.due == [] and kinds(alice_writes[1]) == ["message"]
    for conn in (alice, bob):
        conn.close()
        assert conn.wait_written(timeout=5)
    assert wait_for(loop.ended, 5)


def test_an_idle_writer_ends_and_the_next_frame_starts_one(hub: Hub) -> None:
    loop = Loop()
    conn = connect(hub, "alice")
    writes, _ = attached(conn, loop)
    loop.turn()
    assert wait_for(lambda: len(writes) == 1, 5)
    assert retire_idle_writers(time.monotonic()) == 0  # it has not waited LINGER seconds yet
    assert wait_for(lambda: retire_idle_writers(time.monotonic() + LINGER) == 1, 5)
    assert wait_for(loop.ended, 5)  # no writer holds a stack for an idle connection
    hub.apply(message(11, "r1"), R1)
    assert len(loop.due) == 1
    loop.turn()
    assert wait_for(lambda: len(writes) == 2, 5)
    assert [f["pos"] for f in map(orjson.loads, writes[1])] == [11]
    conn.close()
    assert conn.wait_written(timeout=5)


class Socket:
    """What ``send_now`` writes to: takes ``room`` bytes at once (all when None), records them."""

    def __init__(self, room: int | None = None) -> None:
        self.room = room
        self.now: list[str] = []

    def send_now(self, frame: str) -> bytes | None:
        data = frame.encode()
        taken = len(data) if self.room is None else min(self.room, len(data))
        self.now.append(data[:taken].decode())
        return None if taken == len(data) else data[taken:]


def idle(hub: Hub, user: str, loop: Loop, room: int | None = None):
    """A connection whose hello went out and whose writer now waits: its writes and its socket."""
    conn = connect(hub, user)
    writes: list[list] = []
    sock = Socket(room)
    conn.attach(lambda frames: writes.append(list(frames)), lambda code, why: None, loop.spawn, sock.send_now)
    loop.turn()
    assert wait_for(lambda: len(writes) == 1, 5)  # the hello, queued before there was a socket
    return conn, writes, sock


def test_a_lone_event_goes_to_an_idle_socket_at_once(hub: Hub) -> None:
    loop = Loop()
    conn, writes, sock = idle(hub, "alice", loop)
    hub.apply(message(11, "r1"), R1)
    assert [orjson.loads(frame)["pos"] for frame in sock.now] == [11]  # written in the applying call
    assert loop.due == [] and len(writes) == 1 and conn.pending() == 0  # no writer woken
    for pos in (12, 13):  # a burst goes to the writer, for one write
        hub.apply(message(pos, "r1"), R1, burst=True)
    assert wait_for(lambda: len(writes) == 2, 5)
    assert [orjson.loads(frame)["pos"] for frame in writes[1]] == [12, 13] and len(sock.now) == 1
    conn.close()
    assert conn.wait_written(timeout=5)


def test_what_the_socket_did_not_take_at_once_goes_first(hub: Hub) -> None:
    loop = Loop()
    conn, writes, sock = idle(hub, "alice", loop, room=10)
    first = orjson.dumps(message(11, "r1")).decode()
    hub.apply(message(11, "r1"), R1)
    hub.apply(message(12, "r1"), R1)  # the queue is not empty: this one waits its turn
    assert sock.now == [first[:10]]
    assert wait_for(lambda: len(writes) == 2, 5)
    assert writes[1][0] == first[10:].encode()  # the rest of the frame, as bytes, then the next
    assert orjson.loads(writes[1][1])["pos"] == 12
    conn.close()
    assert conn.wait_written(timeout=5)


def test_no_frame_is_written_at_once_past_one_the_writer_holds(hub: Hub) -> None:
    loop = Loop()
    conn = connect(hub, "alice")
    sock, writes, release = Socket(), [], threading.Event()

    def slow_send(frames) -> None:
        release.wait(5)
        writes.append([orjson.loads(frame)["type"] for frame in frames])

    conn.attach(slow_send, lambda code, why: None, loop.spawn, sock.send_now)
    loop.turn()  # the writer takes the hello and is stuck sending it
    assert wait_for(lambda: conn.pending() == 0, 5)
    hub.apply(message(11, "r1"), R1)
    assert sock.now == []  # queued behind the hello the writer holds
    release.set()
    assert wait_for(lambda: len(writes) == 2, 5) and writes[1] == ["message"]
    conn.close()
    assert conn.wait_written(timeout=5)


def test_a_write_larger_than_the_batch_goes_in_several_writes_in_order(hub: Hub) -> None:
    loop = Loop()
    conn = connect(hub, "alice")
    drain(conn)
    for pos in range(11, 11 + 2 * WRITE_BATCH + 3):
        hub.apply(message(pos, "r1"), R1)
    writes, _ = attached(conn, loop)  # everything is queued before the writer first runs
    loop.turn()
    assert wait_for(lambda: sum(map(len, writes)) == 2 * WRITE_BATCH + 3, 5)
    assert [len(w) for w in writes] == [WRITE_BATCH, WRITE_BATCH, 3]
    assert [f["pos"] for w in writes for f in map(orjson.loads, w)] == list(
        range(11, 11 + 2 * WRITE_BATCH + 3)
    )
    conn.close()
    assert conn.wait_written(timeout=5)


def test_the_writer_sends_the_queue_then_closes_and_nothing_is_lost_across_threads(hub: Hub) -> None:
    conn = connect(hub, "alice")
    sent: list[str] = []
    closed: list[tuple[int, str]] = []

    def spawn(writer) -> None:  # real threads at once: frames are queued while the writer runs
        threading.Thread(target=writer).start()

    conn.attach(sent.extend, lambda code, why: closed.append((code, why)), spawn)
    for pos in range(11, 211):
        hub.apply(message(pos, "r1"), R1)
        if pos % 50 == 0:
            retire_idle_writers(time.monotonic() + LINGER)  # and now and then told to end if idle
    hub.close_session("t-alice")
    assert conn.wait_written(timeout=5)
    order = [f["pos"] for f in map(orjson.loads, sent) if f["type"] != "presence"]
    assert order == [10, *range(11, 211)]  # hello, then every event once, in order
    assert closed == [(1000, "signed out")]


def test_a_failing_send_ends_the_writer(hub: Hub) -> None:
    loop = Loop()
    conn = connect(hub, "alice")
    closed: list[tuple[int, str]] = []

    def broken(frames: list[str]) -> None:
        raise OSError("peer gone")

    conn.attach(broken, lambda code, why: closed.append((code, why)), loop.spawn)
    loop.turn()
    assert conn.wait_written(timeout=5) and conn.closed and closed == [(1000, "")]
    assert wait_for(loop.ended, 5)
    assert not conn.push("more") and loop.due == []


def test_close_session_closes_only_that_sessions_connections(hub: Hub) -> None:
    mine, other = connect(hub, "alice", token="s1"), connect(hub, "alice", token="s2")
    assert hub.close_session("s1") == 1
    assert mine.closed and not other.closed


def test_catch_up_seam_has_no_gap_and_no_repeat(hub: Hub) -> None:
    conn = connect(hub, "alice", after=5)
    hello = drain(conn)[0]
    assert hello["pos"] == 5
    # Live events arrive while the replay runs: held, not sent.
    hub.apply(message(11, "r1"), R1)
    hub.apply(message(12, "r1"), R1)
    assert drain(conn) == []
    # The replay (from the backend) covered the log up to 11, and then live 13 arrives.
    for pos in (7, 9, 11):
        conn.put(orjson.dumps(message(pos, "r1")).decode())
    hub.finish_catch_up(conn, 11)
    hub.apply(message(13, "r1"), R1)
    assert positions(conn) == [7, 9, 11, 12, 13]


def test_catch_up_put_waits_for_room_in_the_queue() -> None:
    conn = Connection("alice", "t", limit=2)
    assert conn.put("a") and conn.put("b")
    assert not conn.put("c", timeout=0.05)  # full: waits, never drops or overflows
    assert conn.next_frames(1) == ["a"]
    assert conn.put("c", timeout=0.05)


def test_typing_goes_to_the_other_members_at_most_three_a_second(hub: Hub, clock: Clock) -> None:
    alice, bob, carol = connect(hub, "alice"), connect(hub, "bob"), connect(hub, "carol")
    for conn in (alice, bob, carol):
        drain(conn)
    for _ in range(5):
        assert hub.typing("alice", "r1") is None
    clock.now += 1.0
    assert hub.typing("alice", "r1") is None
    typing = [f for f in drain(bob) if f["type"] == "typing"]
    assert typing == [{"type": "typing", "room": "r1", "user": "alice"}] * 4
    assert drain(alice) == [] and drain(carol) == []


def test_typing_outside_ones_rooms_is_refused_as_the_backend_would(hub: Hub) -> None:
    assert hub.typing("carol", "r1") == "not_found"  # private: does not exist for her
    assert hub.typing("carol", "nowhere") == "not_found"
    assert hub.typing("carol", "pub") == "not_a_member"


def test_presence_is_announced_to_every_connection_on_real_transitions(hub: Hub, clock: Clock) -> None:
    bob = connect(hub, "bob")
    drain(bob)
    alice = connect(hub, "alice")
    assert [f for f in drain(bob) if f["type"] == "presence"] == [
        {"type": "presence", "user": "alice", "online": True}
    ]
    hub.unregister(alice)
    clock.now += OFFLINE_GRACE - 0.5
    hub.sweep()
    assert hub.online_users() == {"alice", "bob"}  # a reload's gap is no transition
    again = connect(hub, "alice")  # the reloaded page
    clock.now += OFFLINE_GRACE * 2
    hub.sweep()
    assert drain(bob) == []
    hub.unregister(again)
    clock.now += OFFLINE_GRACE
    hub.sweep()
    assert drain(bob) == [{"type": "presence", "user": "alice", "online": False}]
    assert hub.online_users() == {"bob"}


# -- caught-up long-polls of /api/events (webserver.polling) -----------------------------------


def answer(hub: Hub, waiter) -> dict:
    """The poll's answer as the client would read it."""
    frames, pos, signals = hub.unpark(waiter)
    return orjson.loads(polling.answer_body(frames, pos, signals))


def test_a_parked_poll_gets_only_the_events_that_concern_its_user(hub: Hub) -> None:
    carol = hub.park("carol", 10)
    hub.apply(message(11, "r1"), R1)  # a private room she is not in
    hub.apply(room_event(12, "new-pub", ["alice"], "created", "alice", "public"), EVERYONE)
    hub.apply(room_event(13, "r1", ["alice", "bob", "carol"], "added", "carol"), [*R1, "carol"])
    hub.apply(message(14, "r1"), [*R1, "carol"])
    assert carol.wait(0)
    got = answer(hub, carol)
    assert [e["pos"] for e in got["events"]] == [12, 13, 14]
    assert got["events"][2] == message(14, "r1")
    assert (got["pos"], got["more"]) == (14, False)
    hub.apply(message(15, "r1"), [*R1, "carol"])  # after the answer: left for her next poll
    assert len(carol.frames) == 3


def test_typing_wakes_the_other_members_parked_polls_and_is_never_kept(hub: Hub) -> None:
    bob, alice = hub.park("bob", 10), hub.park("alice", 10)
    assert hub.typing("alice", "r1") is None
    assert bob.wait(0) and not alice.wait(0)  # the typist's own poll sleeps on
    typing = {"type": "typing", "room": "r1", "user": "alice"}
    assert answer(hub, bob) == {"events": [], "pos": 10, "more": False, "signals": [typing]}
    hub.typing("alice", "r1")  # nobody parked for bob now: the notice is gone, not queued
    again = hub.park("bob", 10)
    hub.apply(message(11, "r1"), R1)
    assert answer(hub, again) == {"events": [message(11, "r1")], "pos": 11, "more": False}
    assert answer(hub, alice)["events"] == [message(11, "r1")]
    # A notice from another front server (Redis) reaches the polls here the same way.
    polling = hub.park("bob", 11)
    hub.remote_typing("r1", "alice")
    assert answer(hub, polling)["signals"] == [typing]


def test_a_poll_is_parked_at_or_past_the_hubs_pos(hub: Hub) -> None:
    assert hub.park("alice", 9) is None  # behind: it catches up from the backend first
    assert Hub().park("alice", 0) is None  # no rooms snapshot yet
    assert hub.park("alice", 10) is not None
    assert hub.park("alice", 12) is not None  # ahead: the backend has it, the hub will soon


def test_a_poll_ahead_of_the_hub_gets_only_the_events_after_its_cursor(hub: Hub) -> None:
    ahead = hub.park("alice", 12)
    hub.apply(message(11, "r1"), R1)
    hub.apply(message(12, "r1"), R1)
    assert not ahead.wait(0)  # the client has these already
    assert hub.unpark(ahead) == ([], 12, [])  # had it timed out now: still its own cursor
    ahead = hub.park("alice", 12)
    hub.apply(message(13, "r1"), R1)
    assert ahead.wait(0)
    assert answer(hub, ahead) == {"events": [message(13, "r1")], "pos": 13, "more": False}


def test_a_poll_that_times_out_answers_empty_with_the_hubs_pos(hub: Hub) -> None:
    bob = hub.park("bob", 10)
    hub.apply(room_event(11, "priv", ["alice"], "created", "alice"), ["alice"])  # nothing of bob's
    assert not bob.wait(0.05)
    assert answer(hub, bob) == {"events": [], "pos": 11, "more": False}
    hub.apply(message(12, "r1"), R1)
    assert bob.frames == []  # unparked: no longer handed anything


def test_several_polls_of_one_user_and_of_others_each_get_the_event(hub: Hub) -> None:
    a1, a2, b = hub.park("alice", 10), hub.park("alice", 10), hub.park("bob", 10)
    conn = connect(hub, "alice")
    assert hub.apply(message(11, "r1"), R1) == 4
    assert [answer(hub, w)["events"] for w in (a1, a2, b)] == [[message(11, "r1")]] * 3
    assert positions(conn) == [11]


def test_a_parked_poll_wakes_a_waiting_thread_and_keeps_the_batch(hub: Hub) -> None:
    waiter = hub.park("alice", 10)
    woke = threading.Event()
    thread = threading.Thread(target=lambda: woke.set() if waiter.wait(5) else None)
    thread.start()
    hub.apply(message(11, "r1"), R1)
    hub.apply(message(12, "r1"), R1)
    thread.join(5)
    assert woke.is_set()
    got = answer(hub, waiter)
    assert [e["pos"] for e in got["events"]] == [11, 12] and got["pos"] == 12


def test_a_full_poll_stops_at_its_last_event_so_nothing_is_lost(hub: Hub) -> None:
    waiter = hub.park("alice", 10)
    for pos in range(11, 11 + EVENTS_BATCH + 3):
        hub.apply(message(pos, "r1"), R1)
    got = answer(hub, waiter)
    assert len(got["events"]) == EVENTS_BATCH
    assert got["pos"] == 10 + EVENTS_BATCH == got["events"][-1]["pos"]


def test_local_params_accept_exactly_what_the_backend_would_and_a_real_wait() -> None:
    assert polling.local_params({"after": "7", "wait": "25"}) == (7, 25.0)
    assert polling.local_params({"after": " 7", "wait": "1e1"}) == (7, 10.0)
    for args in (
        {"wait": "25"},
        {"after": "7"},
        {"after": "7", "wait": "0"},
        {"after": "-1", "wait": "5"},
        {"after": "x", "wait": "5"},
        {"after": "7", "wait": "nan"},
        {"after": "7", "wait": "31"},
        {"after": "7", "wait": "soon"},
        {"after": "1.5", "wait": "5"},
    ):
        assert polling.local_params(args) is None, args


# -- sessions that end (revoked anywhere, or expired) -------------------------------------------


def test_a_session_ended_event_closes_exactly_that_sessions_connections(clock: Clock) -> None:
    forgotten: list[str] = []
    hub = Hub(clock=clock, session_ended=forgotten.append)
    hub.load([room("r1", ["alice", "bob"])], pos=10)
    ended, other_tab, bob = connect(hub, "alice", "t-a1"), connect(hub, "alice", "t-a2"), connect(hub, "bob")
    event = {
        "type": "session_ended",
        "pos": 11,
        "room": "r1",
        "user": "alice",
        "session": token_digest("t-a1"),
    }
    assert hub.apply(event, []) == 0  # delivered to nobody
    assert (ended.closed, ended.close_reason) == (True, "signed out")
    assert not other_tab.closed and not bob.closed
    assert forgotten == [token_digest("t-a1")] and hub.pos == 11
    late = connect(hub, "alice", "t-a1")  # its handshake checked the session before the event
    assert late.closed and late.close_reason == "signed out"


def test_a_connection_is_closed_once_its_session_ends(clock: Clock) -> None:
    wall = Clock(1_000_000.0)
    hub = Hub(clock=clock, wall=wall)
    hub.load([room("r1", ["alice", "bob"])], pos=10)
    soon, later, forever = Connection("alice", "t1"), Connection("alice", "t2"), Connection("bob", "t3")
    hub.register(soon, {"username": "alice"}, expires=wall.now + 5)
    hub.register(later, {"username": "alice"}, expires=wall.now + 50)
    hub.register(forever, {"username": "bob"})
    wall.advance(4.9)
    hub.sweep()
    assert not soon.closed
    wall.advance(0.1)
    hub.sweep()
    assert (soon.closed, soon.close_code, soon.close_reason) == (True, 1008, "session expired")
    assert not later.closed and not forever.closed
    wall.advance(100)
    hub.sweep()
    assert later.closed and not forever.closed


# -- the backend's state (status frames, ours beyond the contract) ------------------------------


def test_the_backends_state_goes_to_every_client_on_a_change_and_after_a_hello(hub: Hub) -> None:
    alice = connect(hub, "alice")
    drain(alice)
    poll = hub.park("bob", 10)
    hub.set_backend(False)
    hub.set_backend(False)  # no change: nothing more is sent
    assert drain(alice) == [{"type": "status", "backend": "unavailable"}]
    assert poll.wait(0)  # the parked poll answers at once, and says so
    frames, pos, signals = hub.unpark(poll)
    assert orjson.loads(polling.answer_body(frames, pos, signals, backend_ok=hub.backend_ok)) == {
        "events": [],
        "pos": 10,
        "more": False,
        "backend": "unavailable",
    }
    # A connection made meanwhile hears it right after its hello.
    carol = connect(hub, "carol")
    assert [frame["type"] for frame in drain(carol)][:2] == ["hello", "status"]
    later = hub.park("bob", 10)
    hub.set_backend(True)
    assert drain(alice)[-1] == {"type": "status", "backend": "ok"}
    assert not later.wait(0)  # back: polls wait for an event as usual, and then say nothing more
    hub.apply(message(11, "r1"), R1)
    frames, pos, signals = hub.unpark(later)
    assert "backend" not in orjson.loads(polling.answer_body(frames, pos, signals, backend_ok=hub.backend_ok))
    assert [frame["type"] for frame in drain(connect(hub, "dave"))] == ["hello", "presence"]

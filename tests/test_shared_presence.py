"""Unit tests of presence over several front servers: this server's users joined with the others'."""

from __future__ import annotations

from tests.timing import Clock
from webserver.presence import OFFLINE_GRACE, Presence
from webserver.shared_presence import SharedPresence


def test_a_local_change_is_announced_at_once_unless_another_server_holds_the_user(clock: Clock) -> None:
    shared = SharedPresence(Presence(clock))
    assert shared.remote_update({"bob"}) == [("bob", True)]
    assert shared.connected("alice") == [("alice", True)]
    # bob is online elsewhere: his socket here changes nothing anyone sees.
    assert shared.connected("bob") == []
    shared.disconnected("bob")
    clock.now += OFFLINE_GRACE + 0.1
    assert shared.sweep() == []
    assert shared.online_users() == {"alice", "bob"}


def test_the_other_servers_users_come_and_go_with_each_read(clock: Clock) -> None:
    shared = SharedPresence(Presence(clock))
    shared.connected("alice")
    assert shared.remote_update({"bob", "carol"}) == [("bob", True), ("carol", True)]
    # alice also shows up elsewhere, carol leaves: only carol's change is seen.
    assert shared.remote_update({"alice", "bob"}) == [("carol", False)]
    # alice leaves elsewhere but is still here: nothing changes.
    assert shared.remote_update({"bob"}) == []
    assert shared.online_users() == {"alice", "bob"}


def test_changes_for_redis_are_the_whole_set_first_then_the_differences(clock: Clock) -> None:
    shared = SharedPresence(Presence(clock))
    shared.connected("alice")
    assert shared.take_changes() == ({"alice"}, {"alice": True}, 1)
    shared.connected("bob")
    shared.disconnected("alice")
    clock.now += OFFLINE_GRACE + 0.1
    shared.sweep()
    assert shared.take_changes() == (None, {"bob": True, "alice": False}, 1)
    assert shared.take_changes() == (None, {}, 1)
    # Redis lost what it had: everything again, once.
    shared.lost()
    assert shared.take_changes() == ({"bob"}, {}, 1)
    assert shared.take_changes() == (None, {}, 1)

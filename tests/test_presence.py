"""Unit tests of presence (online, offline after a grace period, polling window) and the typing gate."""

from __future__ import annotations

from tests.timing import Clock
from webserver.presence import OFFLINE_GRACE, POLL_WINDOW, Presence, RateGate


def test_rate_gate_slides(clock: Clock) -> None:
    gate = RateGate(3, 1.0, clock)
    assert [gate.allow("a") for _ in range(4)] == [True, True, True, False]
    assert gate.allow("b")
    clock.now += 0.999
    assert not gate.allow("a")
    clock.now += 0.002
    assert gate.allow("a")


def test_a_poller_is_online_for_the_poll_window_then_the_grace(clock: Clock) -> None:
    presence = Presence(clock)
    assert presence.polled("pat") == [("pat", True)]
    clock.now += POLL_WINDOW - 1
    assert presence.polled("pat") == []
    clock.now += POLL_WINDOW - 1
    assert presence.sweep() == []
    clock.now += 1 + OFFLINE_GRACE - 0.1
    assert presence.sweep() == []
    clock.now += 0.2
    assert presence.sweep() == [("pat", False)]
    assert presence.online_users() == set()


def test_a_socket_keeps_a_poller_online_past_the_poll_window(clock: Clock) -> None:
    presence = Presence(clock)
    presence.polled("pat")
    presence.connected("pat")
    clock.now += POLL_WINDOW * 3
    assert presence.sweep() == []
    presence.disconnected("pat")
    clock.now += OFFLINE_GRACE
    assert presence.sweep() == [("pat", False)]

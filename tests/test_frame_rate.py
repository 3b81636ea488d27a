"""Unit tests of the frame meter: bursts served, a sustained flood warned once, then closed."""

from __future__ import annotations

from tests.timing import Clock
from webserver.frame_rate import CLOSE_AFTER, WARN_AFTER, FrameMeter, Verdict


def second(meter: FrameMeter, clock: Clock, frames: int) -> list[Verdict]:
    """``frames`` frames spread over one second; the verdicts."""
    start, verdicts = clock.now, []
    for n in range(frames):
        clock.now = start + n / frames
        verdicts.append(meter.count())
    clock.now = start + 1
    return verdicts


def test_a_burst_over_the_rate_for_less_than_the_warning_is_served() -> None:
    clock = Clock()
    meter = FrameMeter(50, clock=clock)
    for _ in range(WARN_AFTER - 1):
        assert set(second(meter, clock, 200)) == {Verdict.SERVE}
    assert set(second(meter, clock, 50)) == {Verdict.SERVE}  # back under the rate: starts again
    for _ in range(WARN_AFTER - 1):
        assert set(second(meter, clock, 200)) == {Verdict.SERVE}


def test_a_sustained_flood_is_warned_once_then_closed() -> None:
    clock = Clock()
    meter = FrameMeter(50, clock=clock)
    verdicts = [v for _ in range(CLOSE_AFTER) for v in second(meter, clock, 100)]
    warned_in = verdicts[(WARN_AFTER - 1) * 100 :]
    assert warned_in[:50] == [Verdict.SERVE] * 50  # within the rate, even in a flood
    assert warned_in[50] is Verdict.WARN
    assert set(warned_in[51:100]) == {Verdict.DROP}
    assert verdicts.count(Verdict.WARN) == 1
    assert verdicts[-50:] == [Verdict.CLOSE] * 50


def test_a_quiet_second_forgives_the_flood() -> None:
    clock = Clock()
    meter = FrameMeter(50, clock=clock)
    for _ in range(WARN_AFTER):
        second(meter, clock, 100)
    clock.advance(2)
    assert set(second(meter, clock, 100)) == {Verdict.SERVE}

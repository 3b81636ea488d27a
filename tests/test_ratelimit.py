"""The rate limits on their own, on a clock the test moves: refills, windows and Retry-After."""

from __future__ import annotations

from backend.ratelimit import FailureWindow, TokenBucket


def test_a_bucket_allows_its_burst_then_one_per_refill(clock):
    bucket = TokenBucket(3, 0.5, clock)  # one action every 2 s after the burst
    assert [bucket.take("alice") for _ in range(3)] == [0, 0, 0]
    assert bucket.take("alice") == 2
    assert bucket.take("bob") == 0  # per key
    clock.advance(1.9)
    assert bucket.take("alice") == 1  # not quite a token yet: whole seconds, rounded up
    clock.advance(0.1)
    assert bucket.take("alice") == 0
    assert bucket.take("alice") == 2


def test_a_bucket_refills_only_up_to_its_burst(clock):
    bucket = TokenBucket(2, 10, clock)
    clock.advance(3600)
    assert [bucket.take("alice") for _ in range(3)] == [0, 0, 1]


def test_a_limit_of_zero_is_off(clock):
    assert all(TokenBucket(0, 1, clock).take("alice") == 0 for _ in range(1000))
    assert all(TokenBucket(5, 0, clock).take("alice") == 0 for _ in range(1000))
    window = FailureWindow(0, 300, clock)
    for _ in range(1000):
        window.record("alice")
    assert window.retry_after("alice") == 0


def test_failures_expire_one_by_one_as_the_window_slides(clock):
    window = FailureWindow(2, 300, clock)
    window.record("alice")
    clock.advance(100)
    window.record("alice")
    assert window.retry_after("alice") == 200  # until the oldest failure is 300 s old
    assert window.retry_after("bob") == 0
    clock.advance(199.5)
    assert window.retry_after("alice") == 1
    clock.advance(0.5)
    assert window.retry_after("alice") == 0  # one failure left in the window: one more try
    window.record("alice")
    assert window.retry_after("alice") == 100


def test_clearing_forgets_a_keys_failures(clock):
    window = FailureWindow(1, 300, clock)
    window.record("alice")
    assert window.retry_after("alice") == 300
    window.clear("alice")
    assert window.retry_after("alice") == 0

"""Unit tests of each user's share of the backend: calls in flight per user and in all."""

from __future__ import annotations

import threading

import pytest

from common.errors import ApiError
from webserver.backend_share import BackendShare


def test_one_user_past_its_share_is_refused_at_once_and_others_go_on() -> None:
    share = BackendShare(per_user=2, total=0)
    with share.call("alice"), share.call("alice"):
        with pytest.raises(ApiError) as refused, share.call("alice"):
            pass
        error = refused.value
        assert (error.status, error.code, error.retry_after) == (429, "rate_limited", 1)
        with share.call("bob"):
            pass
    with share.call("alice"), share.call("alice"):  # both places came back
        pass


def test_past_the_total_a_call_waits_for_a_place_then_gets_a_503() -> None:
    share = BackendShare(per_user=0, total=1, queue_wait=0.05)
    with share.call("alice"):
        with pytest.raises(ApiError) as busy, share.call("bob"):
            pass
        assert (busy.value.status, busy.value.code) == (503, "backend_unavailable")
    held, went = threading.Event(), threading.Event()
    share = BackendShare(per_user=0, total=1, queue_wait=5)

    def second() -> None:
        held.wait(5)
        with share.call("bob"):
            went.set()

    thread = threading.Thread(target=second)
    with share.call("alice"):
        thread.start()
        held.set()
        assert not went.wait(0.1)  # waiting for the place alice holds
    thread.join(5)
    assert went.is_set()


def test_a_call_without_a_user_counts_toward_the_total_only() -> None:
    share = BackendShare(per_user=1, total=2, queue_wait=0.05)
    with share.call(None), share.call(None):
        with pytest.raises(ApiError) as busy, share.call(None):
            pass
        assert busy.value.status == 503


def test_a_failing_call_gives_its_place_back() -> None:
    share = BackendShare(per_user=1, total=1, queue_wait=0.05)
    with pytest.raises(RuntimeError), share.call("alice"):
        raise RuntimeError("the backend went away")
    with share.call("alice"):
        pass

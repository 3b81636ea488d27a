"""Each user's share of the backend: calls in flight per user and in all, and whose share a call is."""

from __future__ import annotations

import threading

import pytest
from live_procs import INTERNAL_SECRET

from common import secret
from common.errors import ApiError
from tests.live_http import sign_in
from webserver.backend_client import BackendClient, BackendUnavailable
from webserver.backend_share import BackendShare
from webserver.sessions import SessionCache


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


@pytest.mark.live
def test_whose_share_a_call_is_is_asked_of_the_backend_once_per_token(start_backend) -> None:
    """The token's user, as found once, past the cache's seconds; a forgotten token is asked again."""
    backend = start_backend()
    alice = sign_in(backend.url, headers={secret.HEADER: INTERNAL_SECRET})
    token = alice.answer.json()["session"]["token"]
    # ttl=0: every answer is out of date as soon as it is held
    cache = SessionCache(BackendClient(backend.url, internal_secret=INTERNAL_SECRET), ttl=0)
    assert cache.owner(token) == alice.username
    assert cache.owner("no-such-token-0123456789") is None
    backend.stop()
    assert cache.owner(token) == alice.username  # not asked: the backend is gone
    with pytest.raises(BackendUnavailable):
        cache.session_for(token)  # what grants access still asks
    cache.forget(token)  # signed out through this server
    with pytest.raises(BackendUnavailable):
        cache.owner(token)

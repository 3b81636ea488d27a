"""Limits per client address on sign-in and registration, and the cap on password hashing.

Played against the real processes: one client may not register without end, spray wrong
passwords over many names, or make every sign-in wait behind its password hashes. The client
address is the peer's, or the one a proxy named by ``--trust-proxy`` forwards; a client cannot
name its own.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.live_http import sign_in, unique


def refused(session, retry_at_least: int = 1) -> int:
    """Check a ``429 rate_limited`` sign-in answer; its Retry-After."""
    answer = session.answer
    assert answer.status_code == 429, answer.text
    assert answer.json()["error"]["code"] == "rate_limited"
    retry = int(answer.headers["Retry-After"])
    assert retry >= retry_at_least
    return retry


def from_address(address: str) -> dict:
    return {"headers": {"X-Forwarded-For": address}}


@pytest.mark.live
def test_new_accounts_per_client_address(start_backend, start_front):
    backend = start_backend(None, "--registration-burst", "3", "--registration-rate", "0.01")
    front = start_front(backend, "--trust-proxy", "127.0.0.1")
    url = front.url
    first = [sign_in(url, status=(201,)) for _ in range(3)]

    # The fourth new account from the same address waits for the rate (1 per 100 s here).
    assert 60 <= refused(sign_in(url, status=None)) <= 100
    # Signing in to an existing account is no new account.
    assert sign_in(url, first[0].username, first[0].password).status == 200
    # Another client behind the trusted proxy has its own allowance...
    assert sign_in(url, status=None, **from_address("203.0.113.7")).status == 201
    # ...but a client cannot name itself: the relay sets the backend's header, overwriting this.
    refused(sign_in(url, status=None, headers={"X-Chat-Client-Address": "198.51.100.1"}))
    # Nor by writing addresses in front of the one the proxy appends: the chain is read from the
    # right, and the first address that is not a trusted proxy is the client.
    for _ in range(2):
        assert sign_in(url, status=None, **from_address("203.0.113.7")).status == 201
    refused(sign_in(url, status=None, **from_address("198.51.100.5, 203.0.113.7")))
    assert sign_in(url, status=None, **from_address("203.0.113.10, 127.0.0.1")).status == 201

    # A front server that trusts no proxy believes no X-Forwarded-For.
    untrusting = start_front(backend)
    refused(sign_in(untrusting.url, status=None, **from_address("203.0.113.8")))
    # Nor one that trusts another proxy than the peer.
    other_proxy = start_front(backend, "--trust-proxy", "10.0.0.0/8")
    refused(sign_in(other_proxy.url, status=None, **from_address("203.0.113.9")))


@pytest.mark.live
def test_failed_sign_ins_across_names_are_limited_per_address(start_backend, start_front):
    backend = start_backend(None, "--address-login-failures", "5")
    url = start_front(backend, "--trust-proxy", "127.0.0.1").url
    people = [sign_in(url, **from_address(f"192.0.2.{n}")) for n in range(1, 8)]

    attacker = from_address("203.0.113.66")
    for person in people[:5]:  # one wrong password each: far under the per-name limit
        assert sign_in(url, person.username, "not-the-password-1", status=(401,), **attacker)
    sixth = sign_in(url, people[5].username, "not-the-password-1", status=None, **attacker)
    assert refused(sixth) <= 300
    # Refused before the password is even checked: the right one is refused too, from there.
    refused(sign_in(url, people[6].username, people[6].password, status=None, **attacker))
    # The people themselves, from their own addresses, sign in as usual.
    for n, person in enumerate(people, 1):
        assert sign_in(url, person.username, person.password, **from_address(f"192.0.2.{n}")).status == 200


@pytest.mark.live
def test_password_hashing_beyond_the_cap_is_refused_at_once(start_backend, start_front):
    backend = start_backend(None, "--hash-concurrency", "1")
    url = start_front(backend).url
    person = sign_in(url, unique("hasher"))

    def attempt(_):
        started = time.monotonic()
        session = sign_in(url, person.username, person.password, status=None)
        return session.answer, time.monotonic() - started

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(attempt, range(24)))
    statuses = sorted({answer.status_code for answer, _ in results})
    assert statuses == [200, 429], [(a.status_code, a.text) for a, _ in results]
    fast = [took for answer, took in results if answer.status_code == 429]
    slow = [took for answer, took in results if answer.status_code == 200]
    for answer, _ in results:
        if answer.status_code == 429:
            assert answer.headers["Retry-After"] == "1"
            assert "busy" in answer.json()["error"]["message"]
    # Refused without hashing: the refusals come back faster than the sign-ins that hashed.
    assert sorted(fast)[len(fast) // 2] < sorted(slow)[len(slow) // 2]


def test_the_contracts_default_for_new_accounts(make_backend_app, clock):
    """Started with no flags: a burst of 100 new accounts per address, then one a minute.

    In-process, on a clock the test moves, with the address the front server would name.
    """
    client = make_backend_app({"RATE_LIMIT_CLOCK": clock}, seeded=False).test_client()

    def register(name: str, address: str = "198.51.100.20"):
        return client.post(
            "/api/session",
            json={"username": name, "password": "correct horse battery"},
            headers={"X-Chat-Client-Address": address},
        )

    for n in range(100):
        assert register(f"burst{n:03d}").status_code == 201
    refused = register("one-too-many")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    assert register("elsewhere", "198.51.100.21").status_code == 201
    clock.advance(60)
    assert register("a-minute-later").status_code == 201
    assert register("and-no-sooner").status_code == 429

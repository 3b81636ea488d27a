"""The backend's HTTP API, sessions and users: registering and signing in by bearer token,
username and password rules, the failed sign-in limit, signing out and the user list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.backend_fixtures import (
    ISO_MS_Z,
    PASSWORD,
    check_error,
    check_retry_after,
    general,
    sign_in,
)

# -- POST/GET/DELETE /api/session ------------------------------------------------------------


def test_register_then_sign_in(backend_client):
    answer, erin = sign_in(backend_client, "erin", "erin's password")
    assert answer.status_code == 201
    body = answer.get_json()
    assert body["user"] == {"username": "erin"}
    assert set(body["session"]) == {"token", "expires_at"}
    assert ISO_MS_Z.match(body["session"]["expires_at"])
    expires = datetime.strptime(body["session"]["expires_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs(expires - datetime.now(UTC) - timedelta(days=30)) < timedelta(minutes=1)
    assert erin.get("/api/session").get_json()["user"] == {"username": "erin"}
    assert general(erin)["member"] is True and "erin" in general(erin)["members"]

    again, erin_again = sign_in(backend_client, "erin", "erin's password")
    assert again.status_code == 200 and again.get_json()["user"] == {"username": "erin"}
    assert erin_again.token != erin.token
    check_error(sign_in(backend_client, "erin", "not erin's password")[0], 401, "invalid_credentials")


def test_sign_in_only_names_an_unknown_account_instead_of_registering_it(backend_client):
    only = {"password": PASSWORD, "create": False}
    answer = backend_client.post("/api/session", json={"username": "Zoë.New", **only})
    check_error(answer, 404, "not_found")
    assert answer.get_json()["error"]["message"] == "No account named Zoë.New."
    assert sign_in(backend_client, "zoë.new")[0].status_code == 201  # it was not registered above
    known = backend_client.post("/api/session", json={"username": "ZOË.NEW", **only})
    assert known.status_code == 200 and known.get_json()["user"] == {"username": "zoë.new"}
    wrong = backend_client.post(
        "/api/session", json={"username": "zoë.new", "password": "wrong one!", "create": False}
    )
    check_error(wrong, 401, "invalid_credentials")
    check_error(
        backend_client.post("/api/session", json={"username": "x1", **only, "create": "no"}),
        422,
        "validation_error",
    )


def test_usernames_are_unique_ignoring_case(backend_client):
    answer, caller = sign_in(backend_client, "ALICE", PASSWORD)
    assert answer.status_code == 200  # a sign-in to alice, not a new account
    assert caller.username == "alice"
    check_error(sign_in(backend_client, "Alice", "a different password")[0], 401, "invalid_credentials")


@pytest.mark.parametrize(
    "username, password",
    [
        ("a", PASSWORD),
        ("x" * 33, PASSWORD),
        ("has space", PASSWORD),
        ("slash/name", PASSWORD),
        ("at@sign", PASSWORD),
        ("", PASSWORD),
        (None, PASSWORD),
        (12345, PASSWORD),
        ("valid_name", "seven77"),
        ("valid_name", "p" * 129),
        ("valid_name", "🔑" * 7),
        ("valid_name", None),
        ("valid_name", 123456789),
    ],
)
def test_bad_username_or_password_is_refused(backend_client, username, password):
    check_error(
        backend_client.post("/api/session", json={"username": username, "password": password}),
        422,
        "validation_error",
    )


def test_length_edges_are_accepted(backend_client):
    # Passwords of the shortest and longest lengths that are not among the easiest to guess.
    longest = "".join(chr(0x1F300 + (i * 37) % 128) for i in range(128))
    for username, password in [("ab", "Zq8#t2Lm"), ("x" * 32, longest), ("a_b-c.9", longest[:8])]:
        answer, _ = sign_in(backend_client, username, password)
        assert answer.status_code == 201, (username, answer.get_data(as_text=True))


def test_eleventh_failed_sign_in_is_rate_limited_by_default(backend_client):
    for attempt in range(10):
        name = "alice" if attempt % 2 else "Alice"  # counted per username, ignoring case
        check_error(sign_in(backend_client, name, f"wrong password {attempt}")[0], 401, "invalid_credentials")
    check_retry_after(sign_in(backend_client, "alice", "wrong again")[0], 300)
    assert sign_in(backend_client, "bob")[0].status_code == 200  # other names are not affected


def test_failed_sign_in_limit_is_configurable(make_backend_app):
    client = make_backend_app({"LOGIN_FAILURES": 2}).test_client()
    for _ in range(2):
        check_error(sign_in(client, "carol", "wrong password")[0], 401, "invalid_credentials")
    check_retry_after(sign_in(client, "carol", "wrong password")[0], 300)


def test_session_needs_a_valid_bearer_token(backend_client, users):
    session = users.alice.get("/api/session").get_json()
    assert session["user"] == {"username": "alice"}
    assert session["session"]["expires_at"] > "2026"  # for the front server, which strips it
    check_error(backend_client.get("/api/session"), 401, "unauthenticated")
    for header in ("Bearer not-a-token", "Bearer ", f"Basic {users.alice.token}", users.alice.token):
        check_error(
            backend_client.get("/api/session", headers={"Authorization": header}), 401, "unauthenticated"
        )


def test_sign_out_revokes_the_token(users):
    answer = users.alice.delete("/api/session")
    assert answer.status_code == 204 and answer.get_data() == b""
    check_error(users.alice.get("/api/session"), 401, "unauthenticated")
    check_error(users.alice.get("/api/rooms"), 401, "unauthenticated")
    assert users.bob.get("/api/session").status_code == 200


def test_user_list(backend_client, users):
    answer = users.alice.get("/api/users")
    assert answer.status_code == 200
    assert sorted(user["username"] for user in answer.get_json()["users"]) == [
        "alice",
        "bob",
        "carol",
        "dave",
    ]
    check_error(backend_client.get("/api/users"), 401, "unauthenticated")

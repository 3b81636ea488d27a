"""Fuzz the public HTTP API with schemathesis against the live front server's own OpenAPI document.

Every operation of ``/api/openapi.json`` is called with generated requests, valid and invalid,
by a signed-in user, and every answer is checked: never a 5xx (the backend is up, so not even
503), the status, the content type, the headers and the body all as the document says, and a
request the document calls invalid is refused. Some cases are pointed at real rooms (public,
private, a DM) so that the fuzzer reaches the routes' insides and not only their 404s. The number
of examples is bounded so the whole run takes well under a minute on a busy two-core machine.
"""

from __future__ import annotations

import http.cookiejar
import os

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.live_http import general_room, make_room, open_dm, sign_in, unique

pytestmark = [pytest.mark.live, pytest.mark.slow]

# Examples per operation in the fuzzing phase: 20 operations, each example one request (a sign-in
# costs a scrypt hash), so this bounds the run to about half a minute. FUZZ_EXAMPLES=200 digs deeper.
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


class Target:
    """The live stack, a signed-in fuzzing user, and rooms of each kind the fuzzer may aim at."""

    def __init__(self, url: str):
        self.url = url
        # Sends only the cookies a case carries: it keeps none that answers set.
        self.bare = requests.Session()
        self.bare.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        self.user = self.new_user("fuzzer")
        self.peer = self.new_user("peer")
        self.rooms = [
            make_room(self.user, visibility="public", name="fuzz"),
            make_room(self.user, visibility="private", name="fuzz"),
            make_room(self.peer, visibility="private", name="fuzz"),  # one the fuzzer cannot see
            open_dm(self.user, self.peer, status=(201,)),
            general_room(self.user),
        ]
        for room in self.rooms[:2] + self.rooms[3:]:  # a few messages to edit, delete and react to
            for n in range(3):
                answer = self.user.post(
                    f"{self.url}/api/rooms/{room}/messages",
                    json={"text": f"fuzz {n}", "client_id": f"fuzz-{n}"},
                    timeout=10,
                )
                assert answer.status_code == 201, answer.text

    def new_user(self, name: str) -> requests.Session:
        """A new user with its own session."""
        return sign_in(self.url, unique(name), status=(201,))

    def session(self) -> requests.Session:
        """The fuzzing user's session, signed in again if a fuzzed sign-out ended it."""
        if self.user.get(f"{self.url}/api/session", timeout=10).status_code == 401:
            self.user = sign_in(self.url, self.user.username, self.user.password, status=(200,))
        return self.user


@pytest.fixture(scope="module")
def target(live_module) -> Target:
    """The stack under fuzzing, with its rooms."""
    return Target(live_module.url)


@pytest.fixture(scope="module")
def api_schema(target):
    """The OpenAPI document as the live front server serves it."""
    return schemathesis.openapi.from_url(f"{target.url}/api/openapi.json", timeout=10)


# The contract's table of routes, and ours (the typing route, docs/api.md); the document must
# describe exactly these.
OPERATIONS = [
    ("POST", "/api/session"),
    ("GET", "/api/session"),
    ("DELETE", "/api/session"),
    ("GET", "/api/users"),
    ("GET", "/api/rooms"),
    ("POST", "/api/rooms"),
    ("GET", "/api/rooms/{id}"),
    ("POST", "/api/rooms/{id}/members"),
    ("DELETE", "/api/rooms/{id}/members/{username}"),
    ("PUT", "/api/rooms/{id}/read"),
    ("POST", "/api/rooms/{id}/typing"),
    ("POST", "/api/dms"),
    ("GET", "/api/rooms/{id}/messages"),
    ("POST", "/api/rooms/{id}/messages"),
    ("GET", "/api/rooms/{id}/messages/{seq}"),
    ("PATCH", "/api/rooms/{id}/messages/{seq}"),
    ("DELETE", "/api/rooms/{id}/messages/{seq}"),
    ("PUT", "/api/rooms/{id}/messages/{seq}/reactions/{emoji}"),
    ("DELETE", "/api/rooms/{id}/messages/{seq}/reactions/{emoji}"),
    ("POST", "/api/rooms/{id}/files"),
    ("GET", "/api/files/{id}/{name}"),
    ("GET", "/api/thumbnails/{id}"),
    ("GET", "/api/events"),
    ("GET", "/api/search"),
    ("GET", "/api/limits"),
    ("GET", "/api/openapi.json"),
]


def test_the_document_describes_the_contracts_routes(target):
    """Every route of the contract is in the served document, and nothing else."""
    document = requests.get(f"{target.url}/api/openapi.json", timeout=10).json()
    described = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert described == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_answer_matches_the_document(method, path, target, api_schema):
    """No 5xx, and status, content type, headers and body as the document says, for any input."""
    operation = api_schema[path][method]
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
    )

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=cases, aim=st.integers(min_value=0, max_value=7))
    def fuzz(case, aim):
        if case.path_parameters and "id" in case.path_parameters and aim < len(target.rooms):
            case.path_parameters["id"] = target.rooms[aim]
        if case.path_parameters and "seq" in case.path_parameters and aim % 4 != 3:
            case.path_parameters["seq"] = 1 + aim % 3
        if case.path_parameters and "username" in case.path_parameters and aim % 2:
            case.path_parameters["username"] = target.user.username
        if case.query and "room" in case.query and aim < len(target.rooms):
            case.query["room"] = target.rooms[aim]  # a search in a real room, readable or not
        wait = (case.query or {}).get("wait")
        if isinstance(wait, int | float) and not isinstance(wait, bool) and 0.2 < wait <= 30:
            case.query["wait"] = 0.2  # a valid long-poll, kept short: waiting is not what is fuzzed
        session = target.session()
        if (method, path) == ("DELETE", "/api/session"):
            session = target.new_user("leaver")  # signing the fuzzing user out would blunt the rest
        # The document declares the session cookie as a parameter: where the case has one, it is
        # the real session's; where the fuzzer left it out on purpose, none is sent.
        if case.cookies and "chat_session" in case.cookies:
            case.cookies["chat_session"] = session.cookies["chat_session"]
        case.call_and_validate(base_url=target.url, session=target.bare, checks=CHECKS, timeout=40)

    fuzz()


@pytest.mark.parametrize(
    ("what", "path", "headers"),
    [
        ("a request line over 4 KiB", "/api/events?after=" + "1" * 5000, {}),
        ("a header over 8 KiB", "/api/session", {"X-Padding": "x" * 9000}),
        ("a cookie over 8 KiB", "/api/session", {"Cookie": "chat_session=" + "x" * 9000}),
        ("over a hundred headers", "/api/session", {f"X-Padding-{n}": "1" for n in range(120)}),
    ],
    ids=["long-request-line", "long-header", "long-cookie", "many-headers"],
)
def test_oversized_requests_get_a_json_error(target, what, path, headers):
    """Requests too big to read are refused like any bad input on /api/: a JSON error, not HTML."""
    answer = requests.get(target.url + path, headers=headers, timeout=10)
    assert 400 <= answer.status_code < 500, (what, answer.status_code)
    assert answer.headers.get("Content-Type", "").startswith("application/json"), (
        what,
        answer.status_code,
        answer.headers.get("Content-Type"),
        answer.text[:120],
    )
    error = answer.json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)

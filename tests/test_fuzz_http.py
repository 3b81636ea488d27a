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
import socket

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


# -- cookies and header values ------------------------------------------------------------------

# Header values as a client may send them: any byte a header line can hold (no CR, LF or NUL, which
# end or break the line), a quoted cookie value with the escapes RFC 2109 parsers decode (``\015``
# is a CR once decoded), and values shaped like the real ones.
_OCTETS = st.binary(max_size=80).map(
    lambda raw: bytes(b for b in raw if b not in b"\r\n\x00").decode("latin-1")
)
_ESCAPES = st.lists(
    st.sampled_from(
        ["abc", "\\015", "\\012", "\\000", "\\177", "\\377", '\\"', "X-Injected: 1", ";", " ", ","]
    ),
    max_size=8,
).map(lambda parts: '"' + "".join(parts) + '"')
_VALUES = st.one_of(_OCTETS, _ESCAPES, st.sampled_from(["bytes=0-", "*", "null", "http://evil.example", ""]))
_HEADERS = [
    "Cookie",
    "Range",
    "If-None-Match",
    "If-Range",
    "Origin",
    "Content-Type",
    "Authorization",
    "Accept",
]
_TARGETS = [
    ("GET", "/api/session"),
    ("GET", "/api/rooms"),
    ("GET", "/api/events?after=0&wait=0.1"),
    ("DELETE", "/api/session"),
    ("GET", "/api/files/f0123456789/name.txt"),
    ("GET", "/ws"),
    ("GET", "/"),
]


def raw_status(url: str, request: bytes) -> int:
    """Send ``request`` as it is (a header value no client library would let through) and read the status."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(request)
        head = b""
        while b"\r\n" not in head:
            chunk = sock.recv(4096)
            assert chunk, f"the server closed the connection without an answer to {request[:200]!r}"
            head += chunk
    return int(head.split(b" ", 2)[1])


def raw_request(method: str, target: str, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if target == "/ws":
        lines += ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13"]
        lines += ["Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def test_a_cookie_whose_escapes_decode_to_a_line_break_is_401(target):
    """``chat_session="abc\\015\\012X-Injected: 1"`` is no session: 401, not a 500 from the relay."""
    cookie = 'chat_session="abc\\015\\012X-Injected: 1"'
    for method, path in (("GET", "/api/session"), ("GET", "/api/rooms"), ("GET", "/ws")):
        assert raw_status(target.url, raw_request(method, path, [("Cookie", cookie)])) == 401, path


def test_cookie_and_header_values_never_give_a_5xx(target):
    """Any value in the session cookie or in the headers the front server reads: never a 5xx."""

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES * 3,
        deadline=None,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(
        aim=st.sampled_from(_TARGETS),
        cookie=_VALUES,
        extra=st.lists(st.tuples(st.sampled_from(_HEADERS), _VALUES), max_size=3),
    )
    def fuzz(aim, cookie, extra):
        method, path = aim
        headers = [("Cookie", f"chat_session={cookie}"), *extra]
        status = raw_status(target.url, raw_request(method, path, headers))
        assert status < 500, (method, path, headers, status)

    fuzz()

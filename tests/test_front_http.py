"""The front server's HTTP side, live: cookies, the relay, the origin rule, headers, limits, outages.

Each test drives the real ``MainWServer.py`` in front of a real ``backend.py`` the way a browser or
a script would, and checks what that caller would notice.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import psutil
import pytest
import requests

from common import limits
from tests.live_http import cookie_attributes, sign_in, unique

pytestmark = pytest.mark.live

THIRTY_DAYS = 30 * 24 * 3600


def test_session_cookie_attributes(live_module):
    answer = sign_in(live_module.url, unique("cookie")).answer
    assert answer.status_code == 201
    assert "session" not in answer.json()  # the token travels only in the cookie
    cookie = cookie_attributes(answer.headers["Set-Cookie"])
    assert cookie["value"] and "httponly" in cookie and cookie["samesite"].lower() == "lax"
    assert cookie["path"] == "/"
    assert THIRTY_DAYS - 120 <= int(cookie["max-age"]) <= THIRTY_DAYS
    assert "secure" not in cookie


def test_cookie_signs_in_and_sign_out_revokes_it_on_the_server(live_module, http_user):
    alice = http_user("alice")
    token = alice.cookies["chat_session"]
    answer = alice.get(f"{alice.base_url}/api/session", timeout=5)
    assert answer.status_code == 200 and answer.json() == {"user": {"username": alice.username}}

    answer = alice.delete(f"{alice.base_url}/api/session", timeout=5)
    assert answer.status_code == 204 and answer.content == b"" and "Content-Type" not in answer.headers
    cleared = cookie_attributes(answer.headers["Set-Cookie"])
    assert cleared["value"] == "" and cleared["max-age"] == "0"
    assert "chat_session" not in alice.cookies

    replayed = requests.get(f"{live_module.url}/api/session", cookies={"chat_session": token}, timeout=5)
    assert replayed.status_code == 401
    assert replayed.json()["error"]["code"] == "unauthenticated"


def test_one_users_cookie_never_serves_another(live_module, http_user):
    users = [http_user("par"), http_user("par")]
    url = live_module.url

    def who(index: int) -> tuple[str | None, str | None]:
        if index % 3 == 2:  # no cookie at all
            answer = requests.get(f"{url}/api/session", timeout=5)
            return None, answer.json().get("user", {}).get("username")
        session = users[index % 3]
        return session.username, session.get(f"{url}/api/session", timeout=5).json()["user"]["username"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(who, range(90)))
    assert all(expected == got for expected, got in results), results


def test_origin_rule(live_module, http_user):
    alice = http_user("origin")
    url = live_module.url
    port = url.rsplit(":", 1)[1]

    def create(origin: str | None) -> requests.Response:
        headers = {"Origin": origin} if origin is not None else {}
        return alice.post(f"{url}/api/rooms", json={"name": "origin test"}, headers=headers, timeout=5)

    assert create(url).status_code == 201
    assert create(None).status_code == 201
    for foreign in (
        "http://evil.example",
        f"http://localhost:{port}",
        "http://127.0.0.1:1",
        "null",
        "https" + url[4:],
    ):
        answer = create(foreign)
        assert answer.status_code == 403, foreign
        assert answer.json()["error"]["code"] == "forbidden"
    # Reading is not state-changing: a foreign Origin on a GET is judged by the cookie alone.
    assert (
        alice.get(f"{url}/api/rooms", headers={"Origin": "http://evil.example"}, timeout=5).status_code == 200
    )
    # A refused sign-out leaves the session alone.
    refused = alice.delete(f"{url}/api/session", headers={"Origin": "null"}, timeout=5)
    assert refused.status_code == 403
    assert alice.get(f"{url}/api/session", timeout=5).status_code == 200


def test_secure_cookies_and_allowed_origin_flags(live_module, start_front):
    front = start_front(
        live_module.backend, "--secure-cookies", "--allowed-origin", "https://chat.example:8443"
    )
    allowed = {"Origin": "https://chat.example:8443"}
    answer = sign_in(front.url, unique("secure"), headers=allowed, status=None).answer
    assert answer.status_code == 201
    cookie = cookie_attributes(answer.headers["Set-Cookie"])
    assert "secure" in cookie and "httponly" in cookie
    jar = {"chat_session": cookie["value"]}  # requests keeps Secure cookies off plain http
    for origin, status in (
        ("https://chat.example:8443", 201),
        ("https://chat.example", 403),
        (front.url, 201),
    ):
        answer = requests.post(
            f"{front.url}/api/rooms", json={"name": "x"}, cookies=jar, headers={"Origin": origin}, timeout=5
        )
        assert answer.status_code == status, origin


def _assert_security_headers(answer: requests.Response) -> None:
    csp = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] in ("same-origin", "no-referrer")


def test_security_headers_on_every_kind_of_answer(live_module, http_user):
    alice = http_user("headers")
    url = live_module.url
    page = requests.get(f"{url}/", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    script = requests.get(f"{url}/js/app.js", timeout=5)
    assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]
    api = alice.get(f"{url}/api/rooms", timeout=5)
    assert api.status_code == 200
    unauthenticated = requests.get(f"{url}/api/rooms", timeout=5)
    assert unauthenticated.status_code == 401
    missing = requests.get(f"{url}/no-such-file.js", timeout=5)
    assert missing.status_code == 404
    for answer in (page, script, api, unauthenticated, missing, requests.get(f"{url}/healthz", timeout=5)):
        _assert_security_headers(answer)
    for answer in (api, unauthenticated):
        assert answer.headers["Cache-Control"] == "no-store"


def test_body_size_limit(live_module, http_user):
    alice = http_user("big")
    url = live_module.url
    room = alice.get(f"{url}/api/rooms", timeout=5).json()["rooms"][0]["id"]
    prefix, suffix = b'{"client_id": "c1", "text": "', b'"}'

    def post(size: int) -> requests.Response:
        body = prefix + b"a" * (size - len(prefix) - len(suffix)) + suffix
        return alice.post(
            f"{url}/api/rooms/{room}/messages",
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=5,
        )

    at_limit = post(65_536)  # passes the size gate; the backend refuses the 4,000+ character text
    assert at_limit.status_code == 422 and at_limit.json()["error"]["code"] == "validation_error"
    over = post(65_537)
    assert over.status_code == 413 and over.json()["error"]["code"] == "payload_too_large"


def test_api_errors_are_json(live_module, http_user):
    alice = http_user("errors")
    url = live_module.url
    for method, path in (
        ("GET", "/api/no-such-thing"),
        ("GET", "/api/"),
        ("GET", "/api"),
        ("GET", "/api//rooms"),  # the backend would merge the slashes and redirect
        ("POST", "/api/rooms/%2F/messages"),  # an encoded "/" is never part of an id
        ("POST", "/api/rooms/%2E%2E/messages"),  # a dot segment is a name, not a step up
    ):
        answer = alice.request(method, url + path, json={"text": "x", "client_id": "c"}, timeout=5)
        assert answer.status_code == 404, (method, path, answer.status_code)
        assert answer.json()["error"]["code"] == "not_found"
    bad_json = alice.post(f"{url}/api/rooms", data=b"{not json", timeout=5)
    assert bad_json.status_code == 400 and bad_json.json()["error"]["code"] == "invalid_json"
    wrong_method = alice.put(f"{url}/api/session", json={}, timeout=5)
    assert wrong_method.status_code == 405 and wrong_method.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "path",
    [
        "/internal/rooms",
        "/api/../internal/rooms",
        "/api/%2E%2E/internal/events",
        "/api/rooms/../../internal/rooms",
        "/api/%2e%2e/%2e%2e/internal/events",
        "/api/..%2Finternal/rooms",
    ],
)
def test_the_backends_internal_routes_are_out_of_reach(live_module, http_user, path):
    """The hub's unfiltered feed never leaks through the relay, however the path is spelled."""
    alice = http_user("alice")
    # http.client sends the path exactly as written; requests and urllib3 would remove dot segments.
    connection = http.client.HTTPConnection(urlsplit(live_module.url).netloc, timeout=5)
    try:
        connection.request("GET", path, headers={"Cookie": f"chat_session={alice.cookies['chat_session']}"})
        answer = connection.getresponse()
        body = json.loads(answer.read())
    finally:
        connection.close()
    assert answer.status == 404, body
    assert body["error"]["code"] == "not_found"


def test_long_poll_outlasts_the_default_timeout(live_module, http_user):
    alice = http_user("poll")
    url = live_module.url
    pos = alice.get(f"{url}/api/events", timeout=5).json()["pos"]
    started = time.monotonic()
    answer = alice.get(f"{url}/api/events", params={"after": pos + 10_000, "wait": 2.5}, timeout=10)
    assert answer.status_code == 200 and answer.json()["events"] == []
    assert time.monotonic() - started >= 2.4


def test_online_flag_in_user_list(live_module, http_user):
    poller, reader, absent = http_user("poller"), http_user("reader"), http_user("absent")
    url = live_module.url
    # A long-poll (a wait above 0) counts as online, behind the hub's pos or caught up.
    assert poller.get(f"{url}/api/events", params={"after": 0, "wait": 0.1}, timeout=5).status_code == 200
    # Reads that do not wait (the app's cursor at start, its check once a minute) do not: they
    # would keep a closed tab online for the whole poll window.
    assert reader.get(f"{url}/api/events", timeout=5).status_code == 200
    assert reader.get(f"{url}/api/events", params={"after": 0, "wait": 0}, timeout=5).status_code == 200
    users = {user["username"]: user for user in poller.get(f"{url}/api/users", timeout=5).json()["users"]}
    assert all(isinstance(user["online"], bool) for user in users.values())
    assert users[poller.username]["online"] is True
    assert users[reader.username]["online"] is False
    assert users[absent.username]["online"] is False


def test_backend_outage_and_recovery(live, http_user):
    alice = http_user("outage")
    url = live.url
    live.backend.kill9()
    for call in (
        lambda: alice.get(f"{url}/api/rooms", timeout=10),
        lambda: alice.post(f"{url}/api/rooms", json={"name": "during outage"}, timeout=10),
        lambda: alice.get(f"{url}/api/events", params={"after": 0, "wait": 5}, timeout=10),
    ):
        started = time.monotonic()
        answer = call()
        assert time.monotonic() - started < 2.0
        assert answer.status_code == 503 and answer.json()["error"]["code"] == "backend_unavailable"
        _assert_security_headers(answer)
        assert not re.search(r"127\.0\.0\.1:\d+", answer.text)  # the backend's address stays private
    health = requests.get(f"{url}/healthz", timeout=5)
    assert health.status_code == 200 and health.json() == {"status": "ok", "backend": "unavailable"}

    live.backend.restart()
    assert requests.get(f"{url}/healthz", timeout=5).json() == {"status": "ok", "backend": "ok"}
    # The same cookie works again: the session is on the backend's disk, the front kept nothing stale.
    assert alice.get(f"{url}/api/session", timeout=5).json()["user"]["username"] == alice.username
    assert alice.post(f"{url}/api/rooms", json={"name": "after outage"}, timeout=5).status_code == 201


_OPEN_SOCKET = """url => new Promise(resolve => {
    const violations = [];
    document.addEventListener('securitypolicyviolation', e => violations.push(e.violatedDirective));
    const socket = new WebSocket(url);
    const done = outcome => setTimeout(() => resolve({outcome, violations}), 200);
    socket.onopen = () => { done('open'); socket.close(); };
    socket.onerror = () => done('error');
})"""


@pytest.mark.browser
def test_content_security_policy_lets_the_page_reach_its_own_websocket_only(live_module, http_user):
    from playwright.sync_api import sync_playwright

    alice = http_user("csp")
    url = live_module.url
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            context = browser.new_context()
            context.add_cookies(
                [{"name": "chat_session", "value": alice.cookies["chat_session"], "url": url}]
            )
            page = context.new_page()
            page.goto(f"{url}/")
            own = page.evaluate(_OPEN_SOCKET, "ws" + url[4:] + "/ws")
            assert own == {"outcome": "open", "violations": []}
            foreign = page.evaluate(_OPEN_SOCKET, "ws://127.0.0.2:9/ws")
            assert foreign["violations"] == ["connect-src"]
        finally:
            browser.close()


def test_a_stuck_backend_is_a_503_within_two_seconds(live, http_user):
    alice = http_user("stuck")
    url = live.url
    master = psutil.Process(live.backend.popen.pid)
    stuck = [master, *master.children(recursive=True)]
    for process in stuck:
        process.send_signal(signal.SIGSTOP)  # accepts connections (the kernel does), answers nothing
    try:
        for method, path in (("GET", "/api/rooms"), ("POST", "/api/rooms"), ("GET", "/healthz")):
            started = time.monotonic()
            answer = alice.request(method, url + path, json={"name": "stuck"}, timeout=10)
            assert time.monotonic() - started < 2.0, (method, path)
            if path == "/healthz":
                assert answer.status_code == 200 and answer.json()["backend"] == "unavailable"
            else:
                assert answer.status_code == 503 and answer.json()["error"]["code"] == "backend_unavailable"
    finally:
        for process in stuck:
            process.send_signal(signal.SIGCONT)
    assert alice.get(f"{url}/api/session", timeout=5).json()["user"]["username"] == alice.username


def test_limits_are_served_from_the_one_table(live_module):
    """The app reads its limits from the server; they are the ones the backend enforces."""
    answer = requests.get(f"{live_module.url}/api/limits", timeout=5)
    assert answer.status_code == 200
    served = answer.json()
    assert served == limits.for_app()
    too_long = "x" * (served["username"]["max"] + 1)
    refused = sign_in(live_module.url, too_long, status=None).answer
    assert refused.status_code == 422
    assert sign_in(live_module.url, unique("zoë"), status=None).answer.status_code == 201

"""The front server's backend client against small real HTTP servers: credentials, retries, timeouts,
and the named calls' answer checks."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import orjson
import pytest

from webserver.backend_client import BackendClient, BackendRefused, BackendUnavailable, Session, Stored

Handler = Callable[[int, bytes], bytes | None]


class TinyServer:
    """A loopback HTTP server answering each connection with ``handler(number, request)``.

    ``None`` from the handler closes the connection without an answer. Every request's raw bytes
    are kept in ``requests`` for the test to inspect.
    """

    def __init__(self, handler: Handler):
        self.handler = handler
        self.requests: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        number = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                request = _read_request(conn)
                self.requests.append(request)
                answer = self.handler(number, request)
                number += 1
                if answer is not None:
                    conn.sendall(answer)

    def close(self) -> None:
        self.sock.close()


def _read_request(conn: socket.socket) -> bytes:
    """One whole request: the head, then as many body bytes as its Content-Length says."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _json(body: bytes, *extra: str, status: str = "200 OK") -> bytes:
    head = [f"HTTP/1.1 {status}", "Content-Type: application/json", f"Content-Length: {len(body)}"]
    head += [*extra, "Connection: close"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@pytest.fixture
def serve():
    servers: list[TinyServer] = []

    def start(handler: Handler) -> TinyServer:
        servers.append(TinyServer(handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_cookies_are_never_stored_nor_sent(serve):
    server = serve(lambda n, request: _json(b'{"ok": true}', f"Set-Cookie: stolen=user{n}; Path=/"))
    backend = BackendClient(server.url)
    assert backend.request("GET", "/a", token="token-a").body == {"ok": True}
    assert backend.request("GET", "/b", token="token-b").body == {"ok": True}
    backend.request("GET", "/c")
    first, second, third = server.requests
    assert b"authorization: bearer token-a" in first.lower()
    assert b"authorization: bearer token-b" in second.lower() and b"token-a" not in second
    assert b"authorization" not in third.lower()
    assert not any(b"cookie" in request.lower() for request in server.requests)


def test_a_get_is_retried_once_after_a_dropped_connection_a_post_is_not(serve):
    server = serve(lambda n, request: None if n % 2 == 0 else _json(b'{"n": 1}'))
    backend = BackendClient(server.url)
    assert backend.request("GET", "/again").body == {"n": 1}
    assert len(server.requests) == 2
    with pytest.raises(BackendUnavailable, match="check that backend.py is running"):
        backend.request("POST", "/once", json={"text": "hi"})
    assert len(server.requests) == 3


def test_a_pooled_connection_the_backend_closed_is_not_reused(serve):
    """Without "Connection: close" the connection goes back to the pool; the backend then closes
    it. The check before reuse sees that, so a POST (never retried) goes on a new connection."""
    keep_alive = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    server = serve(lambda n, request: keep_alive)
    backend = BackendClient(server.url)
    for n in range(3):
        assert backend.request("POST", f"/once/{n}", json={"n": n}).status == 200
        time.sleep(0.05)  # the server has closed the connection by now
    assert len(server.requests) == 3


def test_a_silent_backend_times_out_with_a_clear_error(serve):
    server = serve(lambda n, request: time.sleep(3) or None)
    backend = BackendClient(server.url)
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as raised:
        backend.request("GET", "/slow")
    assert time.monotonic() - started < 2.0
    assert server.url in str(raised.value) and "backend.py" in str(raised.value)
    assert len(server.requests) == 1  # a timeout is not retried


def test_an_unreachable_backend_names_its_address():
    sock = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()  # nothing listens there now
    with pytest.raises(BackendUnavailable, match=f"{url} cannot be reached"):
        BackendClient(url).request("GET", "/healthz")


def test_json_bodies_and_headers_come_back(serve):
    server = serve(lambda n, request: _json(b"not json", "Retry-After: 7"))
    answer = BackendClient(server.url).request("POST", "/x", data=b'{"raw": 1}')
    assert answer.status == 200 and answer.body is None and answer.headers["Retry-After"] == "7"
    assert server.requests[0].endswith(b'{"raw": 1}')
    assert b"content-type: application/json" in server.requests[0].lower()


def test_the_path_is_sent_exactly_as_given(serve):
    server = serve(lambda n, request: _json(b"{}"))
    backend = BackendClient(server.url)
    backend.request("DELETE", "/api/rooms/r1/members/%2E%2E")
    backend.request("GET", "/api/rooms/%2F/messages", params={"after": 3})
    first, second = (request.split(b"\r\n", 1)[0] for request in server.requests)
    assert first == b"DELETE /api/rooms/r1/members/%2E%2E HTTP/1.1"
    assert second == b"GET /api/rooms/%2F/messages?after=3 HTTP/1.1"


# -- the named calls ----------------------------------------------------------------------------


def test_session_is_the_user_and_its_end_none_for_a_401_and_unavailable_for_anything_else(serve):
    answers = [
        _json(b'{"user": {"username": "alice"}, "session": {"expires_at": "2026-01-01T00:00:01.500Z"}}'),
        _json(b'{"error": {"code": "unauthenticated", "message": "Sign in."}}', status="401 Unauthorized"),
        _json(
            b'{"error": {"code": "internal_error", "message": "oops"}}', status="500 Internal Server Error"
        ),
        _json(b'{"nobody": true}'),
    ]
    server = serve(lambda n, request: answers[n])
    backend = BackendClient(server.url)
    assert backend.session("t1") == Session({"username": "alice"}, 1767225601.5)
    assert backend.session("t2") is None
    for _ in range(2):
        with pytest.raises(BackendUnavailable, match="GET /api/session"):
            backend.session("t3")
    assert server.requests[0].startswith(b"GET /api/session HTTP/1.1")


def test_post_message_returns_the_message_or_raises_the_backends_refusal(serve):
    limited = b'{"error": {"code": "rate_limited", "message": "Slow down."}}'
    answers = [
        _json(b'{"message": {"seq": 1, "text": "hi"}}', status="201 Created"),
        _json(limited, "Retry-After: 3", status="429 Too Many Requests"),
        _json(b"<html>proxy error</html>", status="502 Bad Gateway"),
    ]
    server = serve(lambda n, request: answers[n])
    backend = BackendClient(server.url)
    assert backend.post_message("t", "r1", "hi", "c1") == Stored({"seq": 1, "text": "hi"}, [])
    with pytest.raises(BackendRefused) as refused:
        backend.post_message("t", "r1", "hi", "c2")
    assert (refused.value.status, refused.value.code, refused.value.retry_after) == (429, "rate_limited", 3)
    assert refused.value.message == "Slow down."
    with pytest.raises(BackendUnavailable):
        backend.post_message("t", "r1", "hi", "c3")
    assert server.requests[0].startswith(b"POST /api/rooms/r1/messages HTTP/1.1")
    assert server.requests[0].endswith(b'{"text":"hi","client_id":"c1"}')


def test_a_new_message_comes_with_the_events_for_the_hub(serve):
    event = {"type": "message", "pos": 7, "message": {"seq": 1, "pos": 7}}
    stored = orjson.dumps(
        {
            "message": event["message"],
            "addressed": [{"event": event, "users": ["alice", "bob"]}, {"event": {"pos": "8"}, "users": []}],
        }
    )
    answers = [_json(stored, status="201 Created"), _json(b'{"message": {"seq": 1}, "addressed": {}}')]
    backend = BackendClient(serve(lambda n, request: answers[n]).url)
    first = backend.post_message("t", "r1", "hi", "c1")
    assert first.message == {"seq": 1, "pos": 7}
    assert first.addressed == [(event, ["alice", "bob"])]  # the item that is not well formed: left out
    assert backend.post_message("t", "r1", "hi", "c1").addressed == []


def test_the_hubs_feed_keeps_only_well_formed_items_in_pos_order(serve):
    body = (
        b'{"events": [{"event": {"type": "x", "pos": 3}, "users": ["bob"]},'
        b' {"event": {"type": "room", "pos": 2}, "users": "*"},'
        b' {"event": {"type": "x", "pos": 4}, "users": "bob"}, {"event": {"type": "x"}, "users": []},'
        b' ["not an item"]], "pos": 4, "more": false}'
    )
    server = serve(lambda n, request: _json(body))
    page = BackendClient(server.url).addressed_events(1, wait=0)
    assert page.events == [({"type": "room", "pos": 2}, "*"), ({"type": "x", "pos": 3}, ["bob"])]
    assert (page.pos, page.more) == (4, False)
    assert server.requests[0].startswith(b"GET /internal/events?after=1&wait=0 HTTP/1.1")

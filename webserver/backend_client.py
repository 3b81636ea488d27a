"""The front server's one HTTP client to the backend (Zulip's ``django_api.py`` is the model).

Every call the front server makes to ``backend.py`` goes through :class:`BackendClient`: one urllib3
connection pool shared by all greenlets, short timeouts so a dead or stuck backend becomes a
``503 backend_unavailable`` within two seconds instead of a hung page, and one bounded retry for
requests that are safe to repeat (GETs, and whatever the caller marks ``repeatable``) whose
connection failed.

Each call the front server makes has a named method (:meth:`~BackendClient.session_user`,
:meth:`~BackendClient.post_message`, :meth:`~BackendClient.user_events`, ...) that knows its path
and checks its answer here, in one place: what it returns has the shape the caller expects; an
error the backend answered in the contract's shape is raised as :class:`BackendRefused`; anything
else is :class:`BackendUnavailable`. Only the ``/api`` relay (:mod:`webserver.relay`) uses the raw
:meth:`~BackendClient.request`, since it passes any answer on unchanged.

urllib3 directly rather than ``requests``: the relay is on the path of every message and every
poll, and ``requests``' per-call preparation and cookie merging was about a quarter of the front
server's CPU in the benchmark's profile (docs/benchmark.md). It also sends the path exactly as
given, where ``requests`` would rewrite ``.`` and ``..`` segments and turn a request about a room
or user named ``..`` into one about another path.

The pool never carries cookies (urllib3 has no cookie jar). The backend knows callers only by
``Authorization: Bearer``, set per call, so one user's credential never rides on another's request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError, ProtocolError, TimeoutError

from common.feed import EVERYONE

DEFAULT_BACKEND_URL = "http://127.0.0.1:8756"

# Seconds. The backend is on loopback: a connect that takes longer than half a second means it
# is not there (or its listen queue is full), and 1.5 s more for the answer keeps the worst case
# for a caller within the two seconds the API promises before it answers 503.
CONNECT_TIMEOUT = 0.5
READ_TIMEOUT = 1.5

# Seconds (connect, answer) for the health check: GET /healthz must answer promptly even when the
# backend hangs.
HEALTH_TIMEOUT = (0.5, 1.0)

# Seconds (connect, answer) the backend may take to store a message: it fsyncs each one, and a
# busy disk must not turn a stored message into a false backend_unavailable.
SEND_TIMEOUT = (0.5, 5.0)

# Seconds to wait for a long-poll's answer beyond its ``wait``: covers a busy backend writing it.
# The hub's feed gets more: its pages are twice as long, and a timeout costs it a whole round.
LONG_POLL_MARGIN = 5.0
FEED_MARGIN = 10.0

# Seconds (connect, answer) for the rooms snapshot: every room with its members, once per start.
SNAPSHOT_TIMEOUT = (0.5, 5.0)

# A GET whose connection was refused or reset is tried once more after this pause: it covers a
# pooled keep-alive connection the backend closed while idle, and a backend that is restarting.
RETRY_PAUSE = 0.05

# Connections kept open to the backend. Long-polls hold one each for up to 35 s, so the pool is
# large; past it urllib3 opens extra connections and closes them after use rather than waiting.
POOL_SIZE = 128

Timeout = float | tuple[float, float] | None


class BackendUnavailable(Exception):
    """The backend could not be reached, or did not answer in time, or answered garbage."""


class BackendRefused(Exception):
    """The backend answered a named call with an error in the contract's shape.

    ``code`` and ``message`` are the backend's; ``retry_after`` is the seconds of a 429's
    ``Retry-After`` header (or None); ``answer`` is the whole answer, for a caller that relays it.
    """

    def __init__(self, answer: BackendResponse, code: str, message: str):
        super().__init__(f"{answer.status} {code}: {message}")
        self.answer = answer
        self.status = answer.status
        self.code = code
        self.message = message
        after = answer.headers.get("Retry-After", "")
        self.retry_after = int(after) if answer.status == 429 and after.isdigit() else None


@dataclass
class BackendResponse:
    """One answer of the backend: status, body parsed as JSON (None when empty or not JSON)."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class EventsPage:
    """One page of an events feed: the events (or for the hub, ``(event, users)`` pairs) in pos order."""

    events: list[Any]
    pos: int
    more: bool


class BackendClient:
    """The HTTP client to ``backend.py`` at ``base_url`` (e.g. ``http://127.0.0.1:8756``)."""

    def __init__(self, base_url: str = DEFAULT_BACKEND_URL):
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        pool_class = urllib3.HTTPSConnectionPool if parts.scheme == "https" else urllib3.HTTPConnectionPool
        # block=False: past POOL_SIZE, extra connections are opened and closed after use rather
        # than making a caller wait for a free one.
        self._pool = pool_class(parts.hostname, parts.port, maxsize=POOL_SIZE, block=False, retries=False)
        self._prefix = parts.path

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        params: Any = None,
        timeout: Timeout = None,
        data: bytes | None = None,
        repeatable: bool | None = None,
    ) -> BackendResponse:
        """Call the backend and return its answer, whatever its status.

        ``path`` starts with ``/`` and is percent-encoded; it is sent exactly as given. ``token``
        becomes ``Authorization: Bearer``. ``json`` is a value to send as JSON; ``data`` is an
        already encoded JSON body relayed as is (the backend judges whether it is valid).
        ``timeout`` is the read timeout in seconds, or a ``(connect, read)`` pair; the default is
        0.5 s to connect and 1.5 s to answer. Raises :class:`BackendUnavailable` when the backend
        cannot be reached or is too slow. A connection error (never a timeout) is tried once more
        when ``repeatable`` is true, which is the default for GET; a POST whose effect happens once
        however often it is sent (a message with its ``client_id``) may say so too.
        """
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if json is not None:
            data = orjson.dumps(json)
        if data is not None:
            headers["Content-Type"] = "application/json"
        url = self._prefix + path + (f"?{urlencode(params)}" if params else "")
        connect, read = _timeouts(timeout)
        if repeatable is None:
            repeatable = method.upper() == "GET"
        attempts = 2 if repeatable else 1
        for attempt in range(attempts):
            try:
                answer = self._pool.urlopen(
                    method,
                    url,
                    body=data,
                    headers=headers,
                    timeout=urllib3.Timeout(connect=connect, read=read),
                    redirect=False,
                )
                break
            # Before TimeoutError: urllib3 makes a refused connection a kind of connect timeout.
            except (NewConnectionError, ProtocolError, ConnectionError) as error:
                if attempt + 1 < attempts:
                    time.sleep(RETRY_PAUSE)
                    continue
                raise self._unavailable(f"cannot be reached ({_reason(error)})") from None
            except TimeoutError as error:
                # A timeout is never retried: the caller's two seconds are already spent.
                raise self._unavailable(f"did not answer in time ({error.__class__.__name__})") from None
            except HTTPError as error:
                raise self._unavailable(f"failed: {_reason(error)}") from None
        return BackendResponse(answer.status, _parse(answer.data), _kept_headers(answer.headers))

    def close(self) -> None:
        """Close the pooled connections."""
        self._pool.close()

    # -- the named calls -----------------------------------------------------------------------

    def health(self) -> bool:
        """Whether ``GET /healthz`` answers 200 promptly; never raises."""
        try:
            return self.request("GET", "/healthz", timeout=HEALTH_TIMEOUT).status == 200
        except BackendUnavailable:
            return False

    def session_user(self, token: str) -> dict | None:
        """The user (``{"username": ...}``) whose session ``token`` is, or None when it is not valid."""
        answer = self.request("GET", "/api/session", token=token)
        if answer.status == 401:
            return None
        body = self._expect(
            answer, "GET /api/session", lambda b: isinstance(b.get("user"), dict), refusals=False
        )
        return body["user"]

    def post_message(self, token: str, room_id: str, text: str, client_id: str) -> dict:
        """Store a message (or find the one stored under ``client_id``) and return it.

        Repeatable: the backend stores one message per sender, room and ``client_id``, so a send
        whose connection failed is tried once more. The timeout covers the backend's fsync.
        """
        answer = self.request(
            "POST",
            f"/api/rooms/{room_id}/messages",
            token=token,
            json={"text": text, "client_id": client_id},
            timeout=SEND_TIMEOUT,
            repeatable=True,
        )
        return self._expect(answer, "POST /api/rooms/{id}/messages", _has_message, ok=(200, 201))["message"]

    def user_events(
        self, token: str | None, after: int, *, wait: float = 0, timeout: Timeout = None
    ) -> EventsPage:
        """One page of ``GET /api/events`` for the user of ``token``: the events after ``after``.

        The read timeout is ``wait`` plus a margin unless ``timeout`` says otherwise.
        """
        answer = self.request(
            "GET",
            "/api/events",
            token=token,
            params={"after": after, "wait": wait},
            timeout=timeout if timeout is not None else (CONNECT_TIMEOUT, wait + LONG_POLL_MARGIN),
        )
        body = self._expect(answer, "GET /api/events", _is_page)
        return EventsPage(body["events"], body["pos"], bool(body["more"]))

    def addressed_events(self, after: int, *, wait: float) -> EventsPage:
        """One page of the whole log for the hub: ``(event, users)`` pairs after ``after``, in pos order.

        ``users`` is a list of usernames or :data:`common.feed.EVERYONE` (see :mod:`common.feed`);
        items of any other shape are left out.
        """
        answer = self.request(
            "GET",
            "/internal/events",
            params={"after": after, "wait": wait},
            timeout=(CONNECT_TIMEOUT, wait + FEED_MARGIN),
        )
        body = self._expect(answer, "GET /internal/events", _is_page)
        pairs = sorted(
            ((item["event"], item["users"]) for item in body["events"] if _is_addressed(item)),
            key=lambda pair: pair[0]["pos"],
        )
        return EventsPage(pairs, body["pos"], bool(body["more"]))

    def rooms_snapshot(self) -> tuple[list[dict], int]:
        """Every room with its members, and the ``pos`` they are as of (``GET /internal/rooms``)."""
        answer = self.request("GET", "/internal/rooms", timeout=SNAPSHOT_TIMEOUT)
        body = self._expect(answer, "GET /internal/rooms", lambda b: type(b.get("pos")) is int)
        rooms = body.get("rooms")
        return [room for room in rooms if isinstance(room, dict)] if isinstance(rooms, list) else [], body[
            "pos"
        ]

    def _expect(
        self,
        answer: BackendResponse,
        call: str,
        shape: Callable[[dict], bool],
        *,
        ok: tuple[int, ...] = (200,),
        refusals: bool = True,
    ) -> dict:
        """The answer's body if its status is one of ``ok`` and ``shape`` accepts it.

        An error in the contract's shape is raised as :class:`BackendRefused` (when the call
        passes such errors on, ``refusals``); anything else means the program at the backend's
        address is not a working backend: :class:`BackendUnavailable`.
        """
        body = answer.body
        if answer.status in ok and isinstance(body, dict) and shape(body):
            return body
        error = body.get("error") if isinstance(body, dict) else None
        if (
            refusals
            and answer.status >= 400
            and isinstance(error, dict)
            and isinstance(error.get("code"), str)
        ):
            raise BackendRefused(answer, error["code"], str(error.get("message") or error["code"]))
        raise self._unavailable(f"answered {call} with {answer.status} and an unexpected body")

    def _unavailable(self, what: str) -> BackendUnavailable:
        return BackendUnavailable(
            f"The backend at {self.base_url} {what}; check that backend.py is running there."
        )


def _has_message(body: dict) -> bool:
    return isinstance(body.get("message"), dict)


def _is_page(body: dict) -> bool:
    return isinstance(body.get("events"), list) and type(body.get("pos")) is int


def _is_addressed(item: Any) -> bool:
    """An item of the hub's feed: ``{"event": {..., "pos": N}, "users": [...] or EVERYONE}``."""
    if not isinstance(item, dict):
        return False
    event, users = item.get("event"), item.get("users")
    return (
        isinstance(event, dict)
        and type(event.get("pos")) is int
        and (isinstance(users, list) or users == EVERYONE)
    )


def _timeouts(timeout: Timeout) -> tuple[float, float]:
    """The (connect, read) pair from the caller's timeout argument."""
    if timeout is None:
        return (CONNECT_TIMEOUT, READ_TIMEOUT)
    if isinstance(timeout, tuple):
        return timeout
    return (CONNECT_TIMEOUT, float(timeout))


def _parse(content: bytes) -> Any:
    """The answer's body as JSON, or None when it is empty or not JSON."""
    if not content:
        return None
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return None


# The backend's answer headers the front server has a use for; the rest (Server, Date,
# Content-Length, Connection) belong to that hop only.
_KEPT_HEADERS = ("Retry-After", "Allow", "Content-Type")


def _kept_headers(headers: Any) -> dict[str, str]:
    return {name: headers[name] for name in _KEPT_HEADERS if name in headers}


def _reason(error: Exception) -> str:
    """A short cause for an operator: the innermost exception's message, not the whole chain."""
    cause: BaseException = error
    while cause.__context__ is not None and cause.__context__ is not cause:
        cause = cause.__context__
    text = str(cause) or cause.__class__.__name__
    return text if len(text) <= 200 else text[:197] + "..."

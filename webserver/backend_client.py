"""The front server's one client for the backend, a named method per call (Zulip's ``django_api.py``).

Each call the front server makes has a method here (:meth:`~BackendClient.session`,
:meth:`~BackendClient.post_message`, :meth:`~BackendClient.user_events`, ...) that knows its path
and timeout and checks its answer, in one place: what it returns has the shape the caller expects;
an error the backend answered in the contract's shape is raised as :class:`BackendRefused`;
anything else is :class:`BackendUnavailable`. Only the ``/api`` relay (:mod:`webserver.relay`)
uses the raw :meth:`~webserver.backend_http.BackendHttp.request`, since it passes any answer on
unchanged. The pool, timeouts and retry are :mod:`webserver.backend_http`'s.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from common.feed import EVERYONE
from webserver.backend_http import (
    CONNECT_TIMEOUT,
    DEFAULT_BACKEND_URL,
    BackendHttp,
    BackendResponse,
    BackendUnavailable,
    Timeout,
)

__all__ = [
    "DEFAULT_BACKEND_URL",
    "BackendClient",
    "BackendRefused",
    "BackendResponse",
    "BackendUnavailable",
    "EventsPage",
    "Session",
    "Stored",
]

# Seconds (connect, answer) for the health check: GET /healthz must answer promptly even when the
# backend hangs.
HEALTH_TIMEOUT = (0.5, 1.0)

# Seconds (connect, answer) the backend may take to store a message: it fsyncs each one, and a
# busy disk must not turn a stored message into a false backend_unavailable.
SEND_TIMEOUT = (0.5, 5.0)

# Seconds to wait for the hub's feed beyond its ``wait``: covers a busy backend writing a page (a
# timeout costs the feed a whole round). The backend's wait always ends before this process gives
# up on it, so no backend thread is left waiting for an answer nobody reads.
FEED_MARGIN = 10.0

# Seconds (connect, answer) for the rooms snapshot: every room with its members, once per start.
SNAPSHOT_TIMEOUT = (0.5, 5.0)


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


@dataclass(frozen=True)
class Session:
    """Whose a session is (``{"username": ...}``) and when it ends (epoch seconds; inf if unsaid)."""

    user: dict
    expires: float


@dataclass
class EventsPage:
    """One page of an events feed: the events (or for the hub, ``(event, users)`` pairs) in pos order."""

    events: list[Any]
    pos: int
    more: bool


Addressed = tuple[dict, list[str] | str]  # an event of the log, and whom it concerns


@dataclass
class Stored:
    """A message the backend stored (or found by its ``client_id``), and the events the call saw
    appended, for the hub to broadcast at once (:meth:`webserver.hub.Hub.apply_ahead`)."""

    message: dict
    addressed: list[Addressed]


def take_addressed(body: Any) -> list[Addressed]:
    """Remove ``addressed`` from a backend answer (the events appended while a call that changed
    something ran, as ``/internal/events`` will bring them; ``backend/handover.py``) and return
    them as ``(event, users)`` pairs. They are for this process's hub, never for a client."""
    items = body.pop("addressed", None) if isinstance(body, dict) else None
    if not isinstance(items, list):
        return []
    return [(item["event"], item["users"]) for item in items if _is_addressed(item)]


class BackendClient(BackendHttp):
    """The backend's calls by name, over :class:`~webserver.backend_http.BackendHttp`."""

    # -- the named calls -----------------------------------------------------------------------

    def health(self) -> bool:
        """Whether ``GET /healthz`` answers 200 promptly; never raises."""
        try:
            return self.request("GET", "/healthz", timeout=HEALTH_TIMEOUT).status == 200
        except BackendUnavailable:
            return False

    def session(self, token: str) -> Session | None:
        """The user whose session ``token`` is and when it ends, or None when it is not valid."""
        answer = self.request("GET", "/api/session", token=token)
        if answer.status == 401:
            return None
        body = self._expect(
            answer, "GET /api/session", lambda b: isinstance(b.get("user"), dict), refusals=False
        )
        return Session(body["user"], _epoch(body.get("session")))

    def post_message(
        self, token: str, room_id: str, text: str, client_id: str, *, reply_to: object = None
    ) -> Stored:
        """Store a message (or find the one stored under ``client_id``): it, and its event if new.

        Repeatable: the backend stores one message per sender, room and ``client_id``, so a send
        whose connection failed is tried once more. The timeout covers the backend's fsync.
        ``reply_to`` (the seq it answers) is passed as given, for the backend to judge.
        """
        body = {"text": text, "client_id": client_id}
        if reply_to is not None:
            body["reply_to"] = reply_to
        answer = self.request(
            "POST",
            f"/api/rooms/{room_id}/messages",
            token=token,
            json=body,
            timeout=SEND_TIMEOUT,
            repeatable=True,
        )
        body = self._expect(answer, "POST /api/rooms/{id}/messages", _has_message, ok=(200, 201))
        return Stored(body["message"], take_addressed(body))

    def user_events(self, token: str | None, after: int, *, timeout: Timeout = None) -> EventsPage:
        """One page of ``GET /api/events`` for the user of ``token``: the events after ``after``.

        Never with a ``wait``: a long-poll waits in the hub, not on a backend thread.
        """
        answer = self.request(
            "GET", "/api/events", token=token, params={"after": after, "wait": 0}, timeout=timeout
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


def _epoch(session: object) -> float:
    """A session's ``expires_at`` (ISO 8601) in epoch seconds; inf when it is missing or unreadable."""
    expires_at = session.get("expires_at") if isinstance(session, dict) else None
    try:
        end = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return math.inf
    return (end if end.tzinfo else end.replace(tzinfo=UTC)).timestamp()


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

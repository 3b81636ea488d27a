"""The session cookie and a short cache of who a session token belongs to.

The browser holds its session as the cookie ``chat_session``; the backend knows sessions only as
bearer tokens. This module reads and writes the cookie, and :class:`SessionCache` answers "which
user is this token?" for the WebSocket handshake and polling presence without asking the backend
on every request.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime

from flask import Request, Response

from common import limits
from common.feed import token_digest
from webserver.backend_client import BackendClient, Session

COOKIE_NAME = "chat_session"

# The contract's 30 days: a returning visitor is signed in without typing anything.
COOKIE_MAX_AGE = limits.SESSION_SECONDS

# Seconds a positive answer of the backend is trusted, and never past the session's end. A
# sign-out through any front server is forgotten at once (here, or on reading its session_ended
# event); this bounds what a lost event could cost. Negative answers are never cached, so a fresh
# sign-in works immediately.
CACHE_SECONDS = 5.0

# Past this many cached tokens, expired entries are swept before adding one, so the cache holds
# about as many entries as there are sessions in use, not every token ever seen.
CACHE_SWEEP_AT = 10_000


# The shape of a session token: the backend issues 43 characters of the URL-safe base64 alphabet
# (``secrets.token_urlsafe(32)``). A cookie of any other shape is no session at all: it is never
# put into the backend's ``Authorization`` header, where a quoted cookie's decoded escapes (a CR,
# an LF) would break the request.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,128}")


def token_from(request: Request) -> str | None:
    """The session token the request's cookie carries, or None (no cookie, or not a token's shape)."""
    token = request.cookies.get(COOKIE_NAME)
    return token if token and TOKEN_SHAPE.fullmatch(token) else None


def set_cookie(response: Response, token: str, *, secure: bool, expires_at: str | None = None) -> None:
    """Put the session cookie on ``response``: HttpOnly, SameSite=Lax, Path=/, 30 days.

    When the backend says when the session ends (``expires_at``, ISO 8601), the cookie ends then
    too, so the browser does not keep a cookie the server no longer honours.
    """
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=_max_age(expires_at),
        path="/",
        secure=secure,
        httponly=True,
        samesite="Lax",
    )


def clear_cookie(response: Response, *, secure: bool) -> None:
    """Tell the browser to drop the session cookie (same attributes, so it matches)."""
    response.set_cookie(
        COOKIE_NAME, "", max_age=0, expires=0, path="/", secure=secure, httponly=True, samesite="Lax"
    )


def _max_age(expires_at: str | None) -> int:
    """Seconds until ``expires_at``, at most 30 days; 30 days when it is missing or unreadable."""
    if not expires_at:
        return COOKIE_MAX_AGE
    try:
        end = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    except ValueError:
        return COOKIE_MAX_AGE
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    seconds = int((end - datetime.now(UTC)).total_seconds())
    return max(0, min(seconds, COOKIE_MAX_AGE))


class SessionCache:
    """Who a session token belongs to and when it ends, asked of the backend and remembered briefly.

    Entries are keyed by the token's digest, so a ``session_ended`` event of the internal feed
    (which names only the digest) can drop one at once: :meth:`forget_digest`.
    """

    def __init__(self, backend: BackendClient, *, ttl: float = CACHE_SECONDS):
        self._backend = backend
        self._ttl = ttl
        self._lock = threading.Lock()
        self._sessions: dict[str, tuple[float, Session]] = {}  # digest -> (cached until, session)

    def user_for(self, token: str | None) -> dict | None:
        """The user (``{"username": ...}``) whose session ``token`` is, or None if it is not valid.

        Raises :class:`BackendUnavailable` when the backend cannot tell.
        """
        session = self.session_for(token)
        return session.user if session else None

    def session_for(self, token: str | None) -> Session | None:
        """The session of ``token`` (its user and end), or None if it is not valid.

        A positive answer is remembered for :data:`CACHE_SECONDS`, never past the session's end.
        Raises :class:`BackendUnavailable` when the backend cannot tell.
        """
        if not token:
            return None
        digest = token_digest(token)
        now = time.monotonic()
        with self._lock:
            cached = self._sessions.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        session = self._backend.session(token)
        if session is None:
            self.forget_digest(digest)
            return None
        until = min(now + self._ttl, now + session.expires - time.time())
        with self._lock:
            if len(self._sessions) >= CACHE_SWEEP_AT:
                self._sweep(now)
            self._sessions[digest] = (until, session)
        return session

    def owner(self, token: str) -> str | None:
        """The username ``token`` belongs to, from any answer still held, however old; the backend
        is asked (as :meth:`session_for` does) only when none is held. None: no valid session.

        Only for counting a relayed call against its user's share of the backend
        (:mod:`webserver.backend_share`), where the answer's age does not matter: a token belongs
        to one user for its whole life, and whether it is still valid is judged by the backend on
        the call itself. An answer outlives :data:`CACHE_SECONDS` here until a sweep or a sign-out
        drops it, so a user's edits and reactions cost no extra backend call. Anything that grants
        access uses :meth:`session_for`. Raises :class:`BackendUnavailable` when it must ask and
        the backend cannot tell.
        """
        with self._lock:
            cached = self._sessions.get(token_digest(token))
        session = cached[1] if cached is not None else self.session_for(token)
        return session.user.get("username") if session else None

    def forget(self, token: str | None) -> None:
        """Drop what is cached for ``token`` (after a sign-out through this server)."""
        if token:
            self.forget_digest(token_digest(token))

    def forget_digest(self, digest: str) -> None:
        """Drop what is cached for the token of SHA-256 ``digest`` (a sign-out anywhere)."""
        with self._lock:
            self._sessions.pop(digest, None)

    def _sweep(self, now: float) -> None:
        """Drop expired entries; the caller holds the lock."""
        for key in [key for key, (until, _) in self._sessions.items() if until <= now]:
            del self._sessions[key]

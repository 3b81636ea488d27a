"""The session cookie and a short cache of who a session token belongs to.

The browser holds its session as the cookie ``chat_session``; the backend knows sessions only as
bearer tokens. This module reads and writes the cookie, and :class:`SessionCache` answers "which
user is this token?" for the WebSocket handshake and polling presence without asking the backend
on every request.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from datetime import UTC, datetime

from flask import Request, Response

from common import limits
from webserver.backend_client import BackendClient

COOKIE_NAME = "chat_session"

# The contract's 30 days: a returning visitor is signed in without typing anything.
COOKIE_MAX_AGE = limits.SESSION_SECONDS

# Seconds a positive answer of the backend is trusted. Short, because a session revoked through
# another front server (or expired) must stop working soon; a sign-out through this one is
# forgotten at once. Negative answers are never cached, so a fresh sign-in works immediately.
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


def token_digest(token: str) -> str:
    """The SHA-256 of a token, as the backend stores it and names it on the internal feed."""
    return hashlib.sha256(token.encode()).hexdigest()


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
    """Who a session token belongs to, asked of the backend and remembered for a few seconds."""

    def __init__(self, backend: BackendClient, *, ttl: float = CACHE_SECONDS):
        self._backend = backend
        self._ttl = ttl
        self._lock = threading.Lock()
        self._users: dict[str, tuple[float, dict]] = {}

    def user_for(self, token: str | None) -> dict | None:
        """The user (``{"username": ...}``) whose session ``token`` is, or None if it is not valid.

        Raises :class:`BackendUnavailable` when the backend cannot tell.
        """
        if not token:
            return None
        now = time.monotonic()
        with self._lock:
            cached = self._users.get(token)
        if cached is not None and cached[0] > now:
            return cached[1]
        user = self._backend.session_user(token)
        if user is None:
            self.forget(token)
            return None
        with self._lock:
            if len(self._users) >= CACHE_SWEEP_AT:
                self._sweep(now)
            self._users[token] = (now + self._ttl, user)
        return user

    def forget(self, token: str | None) -> None:
        """Drop what is cached for ``token`` (after a sign-out)."""
        if token:
            with self._lock:
                self._users.pop(token, None)

    def _sweep(self, now: float) -> None:
        """Drop expired entries; the caller holds the lock."""
        for key in [key for key, (until, _) in self._users.items() if until <= now]:
            del self._users[key]

"""The backend's whole-log feed for the front server's hub (``GET /internal/events``): its shape.

Each item is one stored event with who it concerns, decided by the backend (``backend.audience``)::

    {"events": [{"event": {...}, "users": ["alice", "bob"]}, ...], "pos": N, "more": bool}

``users`` is the list of usernames the event concerns, or :data:`EVERYONE` for an event that
concerns every signed-in user (the creation of a public room). The hub delivers each event to
exactly those users and to nobody else, whatever its type.

One kind is for the hubs themselves and concerns no client (``users`` is empty):
:data:`SESSION_ENDED`, ``{"type": "session_ended", "pos", "room", "user", "session"}``, where
``session`` is the SHA-256 (hex) of a token just signed out. Every hub that follows the feed closes
that session's WebSockets on reading it, so a sign-out through one front server reaches all of
them. The same items travel in the answer to a call that changed something (``"addressed"``,
:mod:`backend.handover`). No I/O and no Flask here.
"""

from __future__ import annotations

import hashlib

import orjson

# In place of a list of usernames: every signed-in user. No username can be "*".
EVERYONE = "*"

# The kind of event that ends a session on every front server (above).
SESSION_ENDED = "session_ended"


def token_digest(token: str) -> str:
    """A session token's SHA-256 (hex): what the backend stores, and what a session_ended names."""
    return hashlib.sha256(token.encode()).hexdigest()


def addressed_item(line: bytes, users: list[str] | str) -> bytes:
    """One item of the feed, ``{"event": ..., "users": ...}``, around an event's stored line."""
    return b'{"event":%s,"users":%s}' % (line, orjson.dumps(users))

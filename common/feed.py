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
:mod:`backend.handover`).

Each front server names itself on every call with :data:`FRONT_HEADER`, a random id of its own:
its long-poll of the feed then sleeps through the events handed to it in the answers to the
changes it relayed (:mod:`backend.handoffs`). No I/O and no Flask here.
"""

from __future__ import annotations

import hashlib
import re
import secrets

import orjson

# In place of a list of usernames: every signed-in user. No username can be "*".
EVERYONE = "*"

# The kind of event that ends a session on every front server (above).
SESSION_ENDED = "session_ended"

# The header that names the front server making a call to the backend (above).
FRONT_HEADER = "X-Chat-Front"

_FRONT_ID = re.compile(r"[0-9a-f]{16}")


def new_front_id() -> str:
    """A front server's id: 16 hex digits, drawn once per process that serves."""
    return secrets.token_hex(8)


def front_id(header: str | None) -> str | None:
    """The front server a call names in :data:`FRONT_HEADER`, or None if it names none validly."""
    return header if header is not None and _FRONT_ID.fullmatch(header) else None


def token_digest(token: str) -> str:
    """A session token's SHA-256 (hex): what the backend stores, and what a session_ended names."""
    return hashlib.sha256(token.encode()).hexdigest()


def addressed_item(line: bytes, users: list[str] | str) -> bytes:
    """One item of the feed, ``{"event": ..., "users": ...}``, around an event's stored line."""
    return b'{"event":%s,"users":%s}' % (line, orjson.dumps(users))

"""The backend's whole-log feed for the front server's hub (``GET /internal/events``): its shape.

Each item is one stored event with who it concerns, decided by the backend (``backend.audience``)::

    {"events": [{"event": {...}, "users": ["alice", "bob"]}, ...], "pos": N, "more": bool}

``users`` is the list of usernames the event concerns, or :data:`EVERYONE` for an event that
concerns every signed-in user (the creation of a public room). The hub delivers each event to
exactly those users and to nobody else, whatever its type. No I/O and no Flask here.
"""

from __future__ import annotations

# In place of a list of usernames: every signed-in user. No username can be "*".
EVERYONE = "*"

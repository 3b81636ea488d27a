"""The contract's limits, written once: the request models of :mod:`common.schemas` are built on
them, so the backend validates with them and the OpenAPI document generated from those models
states them; the browser app reads them from ``GET /api/limits`` instead of copying them.

Lengths count Unicode code points (Python's ``len``). No I/O and no Flask here.
"""

from __future__ import annotations

from typing import Any

USERNAME_MIN, USERNAME_MAX = 2, 32
# The characters of a username besides letters and digits of any script (``str.isalnum``).
USERNAME_EXTRA = "_-."
# The same rule as a regular expression for JSON Schema and JavaScript (with the ``u`` flag):
# \p{L}\p{N} is exactly what ``str.isalnum()`` accepts.
USERNAME_PATTERN = r"^[\p{L}\p{N}_.-]+$"

PASSWORD_MIN, PASSWORD_MAX = 8, 128
ROOM_NAME_MIN, ROOM_NAME_MAX = 1, 64
MESSAGE_MIN, MESSAGE_MAX = 1, 4000
CLIENT_ID_MAX = 64
ROOM_MEMBERS_MAX = 1000  # ours: members named when a room is created

HISTORY_DEFAULT, HISTORY_MAX = 50, 200  # messages per page of GET /api/rooms/{id}/messages
EVENTS_BATCH = 500  # events per answer of GET /api/events
LONG_POLL_MAX_WAIT = 30  # seconds a caller may ask GET /api/events to wait

# Search (GET /api/search).
SEARCH_QUERY_MIN, SEARCH_QUERY_MAX = 1, 200  # code points of q
SEARCH_DEFAULT, SEARCH_MAX = 20, 100  # results per page
SEARCH_WAIT = 2  # ours: seconds a search waits for the index to reach the log as it was when asked

MAX_BODY_BYTES = 65_536  # a request body over this is 413 payload_too_large
MAX_FRAME_BYTES = 65_536  # a WebSocket frame over this closes the connection with 1009

SESSION_SECONDS = 30 * 24 * 3600  # a session, and the cookie that holds it, last 30 days

# The rate limits' defaults (each a flag of backend.py; 0 turns one off).
MESSAGE_BURST, MESSAGE_RATE = 300, 10  # messages per user: a burst, then so many per second
LOGIN_FAILURES, LOGIN_WINDOW = 10, 300  # failed sign-ins per username within so many seconds
# Limits per client address (the contract's "Limits that protect everyone from one account").
ADDRESS_LOGIN_FAILURES = 50  # failed sign-ins from one address, across names, per LOGIN_WINDOW
REGISTRATION_BURST, REGISTRATION_RATE = 100, 1 / 60  # new accounts per address: a burst, then 1 a minute
HASH_CONCURRENCY = 4  # password hashes (scrypt) running at once; one more is 429 at once
ROOM_BURST, ROOM_RATE = 20, 0.1  # rooms per user: a burst, then one every 10 s
MEMBERSHIP_BURST, MEMBERSHIP_RATE = 30, 0.5  # joins, adds and leaves per user: a burst, then 1 per 2 s
DEEP_CATCH_UP = 10_000  # positions behind the log from which a GET /api/events is a deep catch-up
CATCH_UP_BURST, CATCH_UP_RATE = 60, 1  # deep catch-ups per user: a burst (pages), then 1 a second

# -- files --
MAX_UPLOAD_MB = 25  # a file's own bytes at most (--max-upload-mb); more is 413 payload_too_large
UPLOAD_BURST, UPLOAD_RATE = 30, 0.2  # uploads per user: a burst, then one every 5 s
THUMB_SIDE = 400  # a thumbnail's longer side, in pixels
MAX_IMAGE_PIXELS = 50_000_000  # an image with more is never decoded: served as a download


# Messages after they are sent (edit, delete, react).
EMOJI_MIN, EMOJI_MAX = 1, 32  # a reaction's emoji, in code points
REACTIONS_MAX = 20  # distinct emoji on one message
EDIT_WINDOW = 0  # seconds after sending that a message may be edited; 0 = no window (--edit-window)

# The front server's protections of everyone from one account (each a flag of MainWServer.py; 0
# turns one off).
WS_PER_USER = 100  # open WebSockets of one user on one front server; past it the handshake is 429
WS_FRAME_RATE = 50  # frames a second from one WebSocket, sustained for a few seconds: error, then 1008
BACKEND_PER_USER = 8  # relayed calls of one user in flight at once; more are 429
BACKEND_CALLS = 16  # relayed calls in flight at once in all; more wait, then 503 (< backend --threads)


def for_app() -> dict[str, Any]:
    """The limits the browser app checks before it sends, as ``GET /api/limits`` serves them."""
    return {
        "username": {"min": USERNAME_MIN, "max": USERNAME_MAX, "pattern": USERNAME_PATTERN},
        "password": {"min": PASSWORD_MIN, "max": PASSWORD_MAX},
        "room_name": {"min": ROOM_NAME_MIN, "max": ROOM_NAME_MAX},
        "message": {"min": MESSAGE_MIN, "max": MESSAGE_MAX},
        "history": {"default": HISTORY_DEFAULT, "max": HISTORY_MAX},
        "long_poll_max_wait": LONG_POLL_MAX_WAIT,
        "reaction": {"min": EMOJI_MIN, "max": EMOJI_MAX, "per_message": REACTIONS_MAX},
        "search": {"min": SEARCH_QUERY_MIN, "max": SEARCH_QUERY_MAX, "page": SEARCH_DEFAULT},
        "upload_max_bytes": MAX_UPLOAD_MB * 1024 * 1024,
    }

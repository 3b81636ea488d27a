"""The shared secret between the front servers and the backend: its header, its rules, its check.

Every call a front server makes to the backend carries the secret in :data:`HEADER`; a backend
given a secret refuses every call without it (``401``), ``/internal/`` included, ``GET /healthz``
alone excepted. Without it, anyone who can reach the backend's port could read every private room
and DM through ``/internal/events``. A backend listening on an address other than loopback must be
given one (:func:`is_loopback`). No Flask and no I/O beyond resolving a host name.
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import socket

HEADER = "X-Chat-Internal-Secret"

# The value of HEADER on the backend's 401 for a missing or wrong secret, so that a front server can
# tell it from a 401 about a user's session.
REFUSED = "refused"

# Characters. A secret is a random string both processes are given (`make run` makes 43 from 32
# random bytes); below this length it could be guessed by trying.
MIN_LENGTH = 16

# The one environment variable both launchers read the secret from.
ENVIRONMENT = "CHAT_INTERNAL_SECRET"


def secret_text(text: str) -> str:
    """argparse type: a secret of at least :data:`MIN_LENGTH` printable ASCII characters, no spaces."""
    if len(text) < MIN_LENGTH:
        raise argparse.ArgumentTypeError(f"the internal secret must be at least {MIN_LENGTH} characters")
    if not (text.isascii() and text.isprintable()) or " " in text:
        raise argparse.ArgumentTypeError("the internal secret must be printable ASCII with no spaces")
    return text


def matches(given: str | None, secret: str) -> bool:
    """Whether ``given`` is ``secret``, compared in constant time."""
    return given is not None and hmac.compare_digest(given.encode("utf-8", "replace"), secret.encode())


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is a loopback address (``127.0.0.1``, ``::1``, ``localhost``).

    A name that does not resolve counts as not loopback: binding to it fails anyway, and the
    refusal to start without a secret must not depend on a resolver's mood.
    """
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)

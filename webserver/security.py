"""The origin rule for state-changing requests and the security headers on every answer.

The session cookie is SameSite=Lax, which already keeps it off most cross-site POSTs; the origin
rule is the second lock. A request that says where it comes from (``Origin``) must come from this
site, as the request addressed it, or from an origin the operator allowed with
``--allowed-origin``. A request that says nothing (curl, a script) is judged by its cookie alone:
browsers always send ``Origin`` on cross-origin POSTs and WebSocket handshakes, so only
non-browser clients omit it, and they hold their own cookie.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import Flask, Request, Response, current_app, request

from common.errors import ApiError

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

# No inline script or style anywhere, so the policy can be strict. 'self' in connect-src also
# allows ws:// and wss:// to the same host and port (CSP Level 3; Chromium follows it).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)

Origin = tuple[str, str, int]


def parse_origin(text: str | None) -> Origin | None:
    """``(scheme, host, port)`` of an origin such as ``http://localhost:8000``, or None if it is not one.

    The port is made explicit (80 for http, 443 for https) and the host lower-cased, so
    ``http://Example.com`` and ``http://example.com:80`` are the same origin. ``null`` and
    anything with a path, query, user name or unknown scheme is not an origin.
    """
    if not text or text == "null":
        return None
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    return (scheme, parts.hostname.lower(), port if port is not None else _DEFAULT_PORTS[scheme])


def parse_allowed_origins(origins: Iterable[str] | None) -> frozenset[Origin]:
    """The operator's ``--allowed-origin`` values, parsed; raises ValueError naming a bad one."""
    parsed = set()
    for text in origins or ():
        origin = parse_origin(text)
        if origin is None:
            raise ValueError(f"allowed origin {text!r} is not of the form scheme://host:port")
        parsed.add(origin)
    return frozenset(parsed)


def own_origin(req: Request) -> Origin | None:
    """This server's origin as the request addressed it: its scheme and its Host header."""
    return parse_origin(req.host_url)


def origin_allowed(req: Request) -> bool:
    """True when the request has no ``Origin``, or this server's own, or an allowed one.

    Used for state-changing API requests and for the WebSocket handshake alike. The allowed set
    is ``app.config["ALLOWED_ORIGINS"]`` as parsed by :func:`install`.
    """
    header = req.headers.get("Origin")
    if header is None:
        return True
    origin = parse_origin(header)
    if origin is None:
        return False
    allowed = current_app.extensions.get("chat.allowed_origins", frozenset())
    return origin == own_origin(req) or origin in allowed


# What every answer that carries an uploaded file is served with: it may run nothing, load nothing.
FILE_POLICY = "default-src 'none'; sandbox"


def install(app: Flask) -> None:
    """Enforce the origin rule before state-changing requests and add the headers to every answer."""
    app.extensions["chat.allowed_origins"] = parse_allowed_origins(app.config.get("ALLOWED_ORIGINS"))

    @app.before_request
    def _check_origin() -> None:
        if request.method in STATE_CHANGING and not origin_allowed(request):
            raise ApiError(
                403,
                "forbidden",
                "This request comes from another site (its Origin header is not this server's "
                "address nor an allowed origin).",
            )

    @app.after_request
    def _security_headers(response: Response) -> Response:
        add_headers(response, request.path)
        return response


def add_headers(response: Response, path: str) -> None:
    """Set the security headers on ``response``; API answers and health checks are never cached."""
    headers = response.headers
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    headers["X-Frame-Options"] = "DENY"
    if getattr(response, "file_answer", False):
        # An uploaded file (webserver.files): the backend's stricter policy and private caching stay.
        headers.setdefault("Content-Security-Policy", FILE_POLICY)
        return
    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    if path.startswith("/api/") or path in ("/api", "/healthz"):
        headers["Cache-Control"] = "no-store"

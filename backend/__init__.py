"""The backend: a Flask REST service that owns users, rooms and messages (see docs/architecture.md).

Only the front server talks to it. It answers the public API paths with bearer-token auth, plus the
``/internal/`` routes the front server's hub consumes.
"""

from __future__ import annotations

import time

from flask import Flask, jsonify, request

from common import errors, limits, secret
from common.codes import STATUS
from common.jsonprovider import OrjsonProvider

from . import handover, hosts
from .datadir import DataDirError
from .files import Bodies
from .jsonl import StorageError
from .ratelimit import TokenBucket
from .refusals import Refused
from .signins import SignInGuard
from .store import Store

__all__ = ["create_app", "start_background", "DataDirError"]

DEFAULTS = {
    "DATA_DIR": "chats",
    "MESSAGE_BURST": limits.MESSAGE_BURST,
    "MESSAGE_RATE": limits.MESSAGE_RATE,  # per second
    "LOGIN_FAILURES": limits.LOGIN_FAILURES,  # per username per LOGIN_WINDOW
    "LOGIN_WINDOW": limits.LOGIN_WINDOW,  # seconds
    "ADDRESS_LOGIN_FAILURES": limits.ADDRESS_LOGIN_FAILURES,  # per client address per LOGIN_WINDOW
    "REGISTRATION_BURST": limits.REGISTRATION_BURST,  # new accounts per client address
    "REGISTRATION_RATE": limits.REGISTRATION_RATE,  # per second
    "HASH_CONCURRENCY": limits.HASH_CONCURRENCY,  # password hashes at once; more is 429 at once
    "ROOM_BURST": limits.ROOM_BURST,
    "ROOM_RATE": limits.ROOM_RATE,  # per second
    "MEMBERSHIP_BURST": limits.MEMBERSHIP_BURST,  # joins, adds and leaves per user
    "MEMBERSHIP_RATE": limits.MEMBERSHIP_RATE,  # per second
    "CATCH_UP_BURST": limits.CATCH_UP_BURST,  # deep catch-ups (GET /api/events far behind) per user
    "CATCH_UP_RATE": limits.CATCH_UP_RATE,  # per second
    "MAX_CONTENT_LENGTH": limits.MAX_BODY_BYTES,
    "MAX_UPLOAD_MB": limits.MAX_UPLOAD_MB,  # a file's own bytes; the upload route's own limit
    "UPLOAD_BURST": limits.UPLOAD_BURST,
    "UPLOAD_RATE": limits.UPLOAD_RATE,  # per second
    "EDIT_WINDOW": limits.EDIT_WINDOW,  # seconds after sending that an edit is allowed; 0 = always
    # Host names (beyond localhost and IP addresses) that requests may name (backend.hosts).
    "ALLOWED_HOSTS": frozenset({"localhost"}),
    # What the rate limits read the time from; tests put a clock here that they move by hand.
    "RATE_LIMIT_CLOCK": time.monotonic,
    # The secret every caller must present (common/secret.py); None or "" lets any caller in, which
    # backend.py allows only on loopback.
    "INTERNAL_SECRET": None,
    # Start following the log for search at once; backend.py starts it in the worker instead (a
    # thread started in gunicorn's master would not survive the fork): see start_background.
    "START_SEARCH_INDEX": True,
}


def create_app(config: dict | None = None) -> Flask:
    """Build the backend app on ``config["DATA_DIR"]``; raises DataDirError if it cannot be used."""
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    app.config["MAX_UPLOAD_BYTES"] = int(app.config["MAX_UPLOAD_MB"] * 1024 * 1024)
    store = Store(app.config["DATA_DIR"])
    app.extensions["chat.store"] = store
    app.extensions["chat.bodies"] = Bodies(app.config["DATA_DIR"])
    clock = app.config["RATE_LIMIT_CLOCK"]
    app.extensions["chat.limits"] = {
        "messages": TokenBucket(app.config["MESSAGE_BURST"], app.config["MESSAGE_RATE"], clock),
        "rooms": TokenBucket(app.config["ROOM_BURST"], app.config["ROOM_RATE"], clock),
        "memberships": TokenBucket(app.config["MEMBERSHIP_BURST"], app.config["MEMBERSHIP_RATE"], clock),
        "catch_ups": TokenBucket(app.config["CATCH_UP_BURST"], app.config["CATCH_UP_RATE"], clock),
        "uploads": TokenBucket(app.config["UPLOAD_BURST"], app.config["UPLOAD_RATE"], clock),
    }
    app.extensions["chat.signins"] = SignInGuard(app.config, clock)
    errors.install(app)
    hosts.install(app)
    if app.config["INTERNAL_SECRET"]:
        _require_secret(app, app.config["INTERNAL_SECRET"])
    handover.install(app)

    @app.errorhandler(Refused)
    def refused(error: Refused):
        # The one place where the domain's refusals meet HTTP: the contract's status for each code.
        return errors.error_response(
            STATUS[error.code], error.code, error.message, retry_after=error.retry_after
        )

    @app.errorhandler(StorageError)
    def storage_failed(error: StorageError):
        # Nothing was half-written (see backend.jsonl); the caller may retry the same request.
        # The operator gets the file and the cause; the caller needs neither.
        app.logger.error("write failed: %s", error)
        return errors.error_response(503, "storage_unavailable", "Storage is failing; try again shortly.")

    if app.config["START_SEARCH_INDEX"]:
        start_background(app)

    from . import auth, events, messages, rooms, search, uploads

    for module in (auth, rooms, messages, events, search, uploads):
        app.register_blueprint(module.bp)

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    return app


def _require_secret(app: Flask, expected: str) -> None:
    """Refuse every call without the front servers' shared secret (401), ``GET /healthz`` alone excepted."""

    @app.before_request
    def check_secret():
        if request.path == "/healthz" and request.method in ("GET", "HEAD"):
            return None
        if secret.matches(request.headers.get(secret.HEADER), expected):
            return None
        answer = errors.error_response(
            401,
            "unauthenticated",
            "This backend answers its front servers only: the internal secret is missing or wrong.",
        )
        # Tells a front server that this 401 is about the secret, not the user's session: it must
        # not sign anyone out over a misconfiguration (webserver/backend_http.py).
        answer.headers[secret.HEADER] = secret.REFUSED
        return answer


def start_background(app: Flask) -> None:
    """Start the app's background work: the search index following (or rebuilding from) the log."""
    app.extensions["chat.store"].search.start()

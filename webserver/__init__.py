"""The front server: the single-page app, the ``/api/`` relay to the backend, and the ``/ws`` hub.

:func:`create_app` builds it. Browsers and scripts talk only to this process; it holds the
session cookie, enforces the origin rule, adds the security headers, and talks to ``backend.py``
through one pooled HTTP client (:mod:`webserver.backend_client`); ``/api/`` is relayed by
:mod:`webserver.relay` and ``/ws`` served by :mod:`webserver.ws` and its hub.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, jsonify, send_from_directory

import common.errors
from common import limits
from common.jsonprovider import OrjsonProvider
from common.limits import MAX_BODY_BYTES, MAX_UPLOAD_MB
from webserver import clients, files, openapi, relay, security, shell, typing_http, ws
from webserver.backend_client import DEFAULT_BACKEND_URL, BackendClient, BackendUnavailable
from webserver.backend_share import BackendShare
from webserver.file_pacing import FilePacer
from webserver.sessions import SessionCache

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

DEFAULTS: dict[str, Any] = {
    "BACKEND_URL": DEFAULT_BACKEND_URL,
    "SECURE_COOKIES": False,
    "ALLOWED_ORIGINS": [],
    "STATIC_DIR": str(STATIC_DIR),
    "MAX_CONTENT_LENGTH": MAX_BODY_BYTES,  # Werkzeug answers 413 as soon as a view reads more
    "MAX_UPLOAD_MB": MAX_UPLOAD_MB,  # the upload route's own limit (webserver.files)
    # The protections of everyone from one account (README, "Rate limits"); 0 turns one off.
    "WS_PER_USER": limits.WS_PER_USER,
    "WS_FRAME_RATE": limits.WS_FRAME_RATE,
    "BACKEND_PER_USER": limits.BACKEND_PER_USER,
    "BACKEND_CALLS": limits.BACKEND_CALLS,
    "INTERNAL_SECRET": None,  # sent to the backend on every call (common/secret.py)
    "REDIS_URL": None,  # with one, typing and presence are shared with the other front servers
    "TRUST_PROXY": [],  # proxies whose X-Forwarded-For names the client (webserver.clients)
}


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the front server's Flask app.

    ``config`` keys: ``BACKEND_URL`` (default ``http://127.0.0.1:8756``), ``SECURE_COOKIES``
    (bool), ``ALLOWED_ORIGINS`` (list of ``scheme://host:port``), ``STATIC_DIR`` (default the
    repository's ``static/``), the limits of :data:`DEFAULTS` (``WS_PER_USER``,
    ``WS_FRAME_RATE``, ``BACKEND_PER_USER``, ``BACKEND_CALLS``), and ``TRUST_PROXY`` (addresses or
    networks of reverse proxies whose ``X-Forwarded-For`` is believed). Raises ValueError for an
    allowed origin or a proxy that is not one.
    """
    app = Flask(__name__, static_folder=None)
    app.json = OrjsonProvider(app)
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    app.config["SECURE_COOKIES"] = bool(app.config["SECURE_COOKIES"])
    app.config["TRUSTED_PROXIES"] = clients.parse_networks(app.config["TRUST_PROXY"])

    common.errors.install(app)
    app.register_error_handler(BackendUnavailable, relay.backend_unavailable)
    security.install(app)

    pacer = app.extensions["chat.file_pacer"] = FilePacer()
    backend = BackendClient(
        app.config["BACKEND_URL"],
        internal_secret=app.config["INTERNAL_SECRET"],
        on_message_stored=pacer.observe,
    )
    app.extensions["chat.backend"] = backend
    app.extensions["chat.sessions"] = SessionCache(backend)
    app.extensions["chat.backend_share"] = BackendShare(
        app.config["BACKEND_PER_USER"], app.config["BACKEND_CALLS"]
    )

    app.register_blueprint(openapi.bp)
    app.register_blueprint(files.bp)
    app.register_blueprint(typing_http.bp)
    app.register_blueprint(relay.bp)
    app.add_url_rule("/healthz", "healthz", healthz)
    app.add_url_rule("/", "index", index)
    app.add_url_rule(f"/{shell.WORKER}", "service_worker", shell.service_worker)
    app.add_url_rule("/<path:filename>", "static_file", static_file)
    ws.init_app(app)  # /ws, the hub (chat.hub) and the event stream that feeds it
    return app


def healthz() -> Response:
    """``{"status": "ok", "backend": "ok" | "unavailable"}``, always 200: this process is up."""
    backend: BackendClient = current_app.extensions["chat.backend"]
    return jsonify({"status": "ok", "backend": "ok" if backend.health() else "unavailable"})


def index() -> Response:
    """The single-page app's ``index.html``."""
    return static_file("index.html")


def static_file(filename: str) -> Response:
    """A file of the static directory by its path; 404 (JSON) for anything else."""
    return send_from_directory(current_app.config["STATIC_DIR"], filename)

"""The OpenAPI 3.0 document of the public HTTP API, served at ``GET /api/openapi.json``.

Generated once, when first asked for: the operations come from :mod:`webserver.openapi_paths`,
and every schema from the pydantic models of :mod:`common.schemas` and :mod:`common.objects` (the
same models the backend validates requests with) through :mod:`webserver.openapi_schemas`; the
components are exactly the models the operations name. It describes what callers of the front
server see (cookies, the origin rule's 403, the 503 when the backend is away); ``docs/api.md`` says
the same in prose and the two are kept in step.
"""

from __future__ import annotations

import functools

import orjson
from flask import Blueprint, Response, current_app, jsonify

from common import limits
from webserver.openapi_paths import paths
from webserver.openapi_schemas import components, referenced

bp = Blueprint("openapi", __name__)


@functools.cache
def document() -> dict:
    """The OpenAPI document as a dict (built once; callers must not change it)."""
    operations = paths()
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Chat",
            "version": "1.0.0",
            "description": "The chat's public HTTP API, served by the front server. JSON in and out; "
            'errors are {"error": {"code", "message"}}. See docs/api.md.',
        },
        "paths": operations,
        "components": {
            "schemas": components(referenced(operations)),
            "securitySchemes": {
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "chat_session",
                    "description": "Set by POST /api/session; HttpOnly, SameSite=Lax, 30 days.",
                }
            },
        },
        "security": [{"session": []}],
    }


@functools.cache
def _encoded() -> bytes:
    return orjson.dumps(document())


@bp.get("/api/limits")
def limits_json() -> Response:
    """The limits the browser app needs, so that it copies none of them."""
    answer = limits.for_app()
    # This server's own upload limit (--max-upload-mb), which may differ from the default.
    answer["upload_max_bytes"] = int(current_app.config["MAX_UPLOAD_MB"] * 1024 * 1024)
    return jsonify(answer)


@bp.get("/api/openapi.json")
def openapi_json() -> Response:
    """Serve the document."""
    return Response(_encoded(), mimetype="application/json")

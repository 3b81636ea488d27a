"""One JSON error shape for both processes: ``{"error": {"code": ..., "message": ...}}``.

Routes raise :class:`ApiError` (or let Werkzeug raise an ``HTTPException``); :func:`install` turns
either into the same JSON body, so no route builds an error body by hand and no ``/api/`` answer is
ever an HTML page or a stack trace.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# The contract's error codes for the plain HTTP errors Werkzeug may raise before a route runs.
_CODE_FOR_STATUS = {
    400: "invalid_json",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    416: "range_not_satisfiable",
    429: "rate_limited",
    503: "backend_unavailable",
}


class ApiError(Exception):
    """A domain error with the HTTP status and contract code that carry it."""

    def __init__(self, status: int, code: str, message: str, *, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


def error_response(status: int, code: str, message: str, *, retry_after: int | None = None) -> Response:
    """Build the JSON error answer; ``retry_after`` (seconds) adds a ``Retry-After`` header."""
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = str(max(1, int(retry_after)))
    return response


def install(app: Flask) -> None:
    """Register the handlers that turn every error into the JSON shape."""

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return error_response(error.status, error.code, error.message, retry_after=error.retry_after)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        code = _CODE_FOR_STATUS.get(status, "http_error")
        response = error_response(status, code, error.description or code)
        for name, value in error.get_headers():  # e.g. Allow on a 405
            if name != "Content-Type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "The server hit an unexpected error.")

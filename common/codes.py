"""The contract's error codes and the HTTP status that carries each: the one table.

Read by both processes' error handlers, by the backend's handler of its domain refusals
(:mod:`backend.refusals`) and by the OpenAPI document. No Flask here.
"""

from __future__ import annotations

STATUS = {
    "invalid_json": 400,
    "validation_error": 422,
    "unauthenticated": 401,
    "invalid_credentials": 401,
    "forbidden": 403,
    "not_a_member": 403,
    "not_found": 404,
    "payload_too_large": 413,
    "rate_limited": 429,
    "backend_unavailable": 503,
    # Ours, beyond the contract's list: the backend could not write to its disk (nothing was
    # half-written; the same request may be retried).
    "storage_unavailable": 503,
    # Ours: a front server near its limit of open files refuses new WebSockets (try again soon).
    "server_busy": 503,
    # Ours: a new username that looks like a registered one (docs/api.md, "Usernames").
    "username_taken": 409,
    # Ours: a new account's password among the easiest to guess.
    "weak_password": 422,
    # Ours: the backend was asked for a host name it does not serve (DNS rebinding; backend/hosts.py).
    "misdirected_request": 421,
    # Ours: a Range header outside a file (GET /api/files/...).
    "range_not_satisfiable": 416,
}

"""The ``Host`` a request names must be one the backend serves: no DNS rebinding.

A web page on ``evil.example`` whose name the attacker re-points at 127.0.0.1 could make a browser
send requests to the backend's port as if it were ``evil.example``; the browser then names that
host in ``Host``. So a request whose ``Host`` is a name the backend was not told it serves is
refused with ``421 misdirected_request`` before any route runs. An address (``127.0.0.1:8756``,
``[::1]:8756``) is always accepted, since no rebinding can produce one, and so is ``localhost``;
other names are the ``--host`` the backend listens on when it is a name, and each
``--allowed-host`` (for a front server that reaches the backend by a DNS name).
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, request

from common import errors
from common.addresses import is_ip_address


def allowed_names(listen_host: str, extra: Iterable[str]) -> frozenset[str]:
    """The host names served: ``localhost``, ``listen_host`` if it is a name, and ``extra``."""
    names = {"localhost", *(name.strip().lower().rstrip(".") for name in extra if name.strip())}
    if not is_ip_address(listen_host):
        names.add(listen_host.lower().rstrip("."))
    return frozenset(names)


def install(app: Flask) -> None:
    """Refuse, on ``app``, every request whose Host is not served (module docstring)."""
    names: frozenset[str] = app.config["ALLOWED_HOSTS"]

    @app.before_request
    def check_host():
        host = _hostname(request.host)
        if not is_ip_address(host) and host not in names:
            return errors.error_response(
                421, "misdirected_request", "This server does not serve that host name."
            )
        return None


def _hostname(host: str) -> str:
    """The host part of a Host header value, lower case, without port or brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0].rstrip(".") if host.count(":") == 1 else host.rstrip(".")

"""The origin rule's comparisons: default ports, case, ``null``, and the operator's allowed origins.

The live behaviour (403 on the wire, headers on every answer) is in ``test_front_http.py``; these
cover the cases a live server on a random port cannot show, such as default ports.
"""

from __future__ import annotations

import pytest
from flask import request

import webserver
from webserver.security import origin_allowed, parse_allowed_origins, parse_origin


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("http://chat.example", ("http", "chat.example", 80)),
        ("http://Chat.Example:80", ("http", "chat.example", 80)),
        ("https://chat.example", ("https", "chat.example", 443)),
        ("https://chat.example:8443", ("https", "chat.example", 8443)),
        ("http://[::1]:8000", ("http", "::1", 8000)),
        ("http://127.0.0.1:8000/", ("http", "127.0.0.1", 8000)),
        ("null", None),
        ("", None),
        ("http://chat.example/path", None),
        ("http://user@chat.example", None),
        ("ftp://chat.example", None),
        ("http://chat.example:99999", None),
        ("chat.example", None),
    ],
)
def test_parse_origin(text, parsed):
    assert parse_origin(text) == parsed


def test_a_bad_allowed_origin_is_refused_at_start():
    assert parse_allowed_origins(["https://chat.example"]) == {("https", "chat.example", 443)}
    with pytest.raises(ValueError, match="not-an-origin"):
        parse_allowed_origins(["https://chat.example", "not-an-origin"])
    with pytest.raises(ValueError):
        webserver.create_app({"ALLOWED_ORIGINS": ["http://x/path"]})


@pytest.mark.parametrize(
    ("base_url", "origin", "allowed"),
    [
        ("http://chat.example", "http://chat.example", True),
        ("http://chat.example", "http://chat.example:80", True),
        ("http://chat.example:8000", "http://CHAT.example:8000", True),
        ("http://chat.example:8000", "http://chat.example", False),
        ("http://chat.example", "https://chat.example", False),
        ("http://localhost:8000", "http://127.0.0.1:8000", False),
        ("http://chat.example", "https://app.example", True),  # from --allowed-origin
        ("http://chat.example", "https://app.example:444", False),
        ("http://chat.example", "null", False),
        ("http://chat.example", None, True),
    ],
)
def test_origin_allowed(base_url, origin, allowed):
    app = webserver.create_app({"ALLOWED_ORIGINS": ["https://app.example:443"]})
    headers = {"Origin": origin} if origin is not None else {}
    with app.test_request_context("/api/rooms", method="POST", base_url=base_url, headers=headers):
        assert origin_allowed(request) is allowed

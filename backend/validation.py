"""Checks for everything a caller sends, with the contract's limits (counted in code points).

Each function returns the clean value or raises :class:`~backend.refusals.Invalid` whose message names
the field, so routes read as a list of checks and no route builds an error by hand.
"""

from __future__ import annotations

import re

from flask import Request

from common import jsontext

from .refusals import Invalid, InvalidJson, TooLarge

_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_USERNAME_EXTRA = set("_-.")


def invalid(message: str) -> Invalid:
    """The error for a value out of range."""
    return Invalid(message)


def json_body(request: Request) -> dict:
    """The request's JSON object, or 400 ``invalid_json`` (413 past MAX_CONTENT_LENGTH, chunked too)."""
    data = request.get_data(cache=True)
    if request.content_length is None and len(data) >= (request.max_content_length or len(data) + 1):
        # A chunked body is cut at the limit without an error; treat reaching it as going over.
        raise TooLarge("The request body is larger than 65,536 bytes.")
    try:
        body = jsontext.loads(data)
    except jsontext.NotUnicode as error:
        raise invalid(str(error)) from None
    except jsontext.NotJson:
        body = None
    if not isinstance(body, dict):
        raise InvalidJson("The request body must be a JSON object.")
    return body


def text_field(body: dict, name: str, low: int, high: int, *, blank_ok: bool = False) -> str:
    """A required string of ``low`` to ``high`` code points."""
    value = body.get(name)
    if not isinstance(value, str):
        raise invalid(f"'{name}' is required and must be a string.")
    if not low <= len(value) <= high:
        raise invalid(f"'{name}' must be {low} to {high} characters long.")
    if not blank_ok and not value.strip():
        raise invalid(f"'{name}' must not be only white space.")
    return value


def username(value: object, field: str = "username") -> str:
    """2 to 32 letters, digits, ``_``, ``-`` or ``.``."""
    if not isinstance(value, str):
        raise invalid(f"'{field}' is required and must be a string.")
    if not 2 <= len(value) <= 32 or not all(c.isalnum() or c in _USERNAME_EXTRA for c in value):
        raise invalid(f"'{field}' must be 2 to 32 letters, digits, '_', '-' or '.'.")
    return value


def password(body: dict) -> str:
    """8 to 128 characters, any of them."""
    return text_field(body, "password", 8, 128, blank_ok=True)


def client_id(body: dict) -> str:
    """1 to 64 letters, digits, ``_`` or ``-``; required so that retries are safe."""
    value = body.get("client_id")
    if not isinstance(value, str) or not _CLIENT_ID.fullmatch(value):
        raise invalid("'client_id' is required: 1 to 64 letters, digits, '_' or '-'.")
    return value


def choice(body: dict, name: str, options: tuple[str, ...], default: str) -> str:
    """One of ``options``; ``default`` when absent."""
    value = body.get(name, default)
    if value not in options:
        raise invalid(f"'{name}' must be one of: {', '.join(options)}.")
    return value


def int_arg(
    args: dict, name: str, low: int, high: int | None = None, default: int | None = None
) -> int | None:
    """An integer query parameter within ``low`` to ``high``."""
    raw = args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"'{name}' must be an integer.") from None
    if value < low or (high is not None and value > high):
        raise invalid(
            f"'{name}' must be between {low} and {high}."
            if high is not None
            else f"'{name}' must be at least {low}."
        )
    return value


def number_arg(args: dict, name: str, low: float, high: float) -> float:
    """A number of seconds within ``low`` to ``high``; ``low`` when absent."""
    raw = args.get(name)
    if raw is None:
        return low
    try:
        value = float(raw)
    except ValueError:
        raise invalid(f"'{name}' must be a number.") from None
    if not low <= value <= high:  # also refuses nan
        raise invalid(f"'{name}' must be between {low:g} and {high:g}.")
    return value

"""Parsing JSON from callers, telling apart text that is not JSON from JSON that is not text.

``"\\ud800"`` is valid JSON grammar but spells a lone surrogate, which no UTF-8 text can hold: the
caller sent a bad *value* (``validation_error``), not broken JSON (``invalid_json``). orjson refuses
both alike, so a refused document is parsed once more, strictly, to tell which it was.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


class NotJson(ValueError):
    """The text is not JSON."""


class NotUnicode(ValueError):
    """The JSON is well-formed but a string in it holds a lone surrogate."""


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads(data: str | bytes) -> Any:
    """Parse a caller's JSON document; raises NotJson or NotUnicode."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        try:
            json.loads(data, parse_constant=_refuse_constant)
        except (ValueError, RecursionError):
            raise NotJson(str(error)) from None
        raise NotUnicode("A string holds a lone surrogate escape, which is not text.") from None

"""Flask JSON through orjson: the hot paths (history pages, event batches) serialise several times faster."""

from __future__ import annotations

from typing import Any

import orjson
from flask.json.provider import JSONProvider


class OrjsonProvider(JSONProvider):
    """``app.json`` backed by orjson; output is compact UTF-8, as the contract's examples are."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialise to a str."""
        return orjson.dumps(obj).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse JSON text."""
        return orjson.loads(s)

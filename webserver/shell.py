"""``GET /sw.js``: the service worker, with the list of the app shell's files and their version.

The worker itself is ``static/sw.js``; this puts ``const SHELL = {"version": ..., "files": [...]}``
in front of it: every file of the static directory but the worker (``index.html`` as ``/``), and a
hash of their contents. Any change to the shell changes the worker's bytes, which is what makes
browsers install it again and replace their cached copy (docs/frontend.md). Never ``/api/``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
from flask import Response, current_app

WORKER = "sw.js"


def shell(static_dir: Path) -> dict:
    """``{"version", "files"}`` of the app shell under ``static_dir``."""
    digest = hashlib.sha256()
    files = []
    for path in sorted(p for p in static_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(static_dir).as_posix()
        if relative == WORKER or relative.startswith("."):
            continue
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
        files.append("/" if relative == "index.html" else f"/{relative}")
    return {"version": digest.hexdigest()[:16], "files": files}


def service_worker() -> Response:
    """The worker with its shell list in front; revalidated on every check (``no-cache``)."""
    static_dir = Path(current_app.config["STATIC_DIR"])
    head = b"const SHELL = " + orjson.dumps(shell(static_dir)) + b";\n"
    response = Response(head + (static_dir / WORKER).read_bytes(), mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response

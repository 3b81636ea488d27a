"""The domain knows no HTTP: the store and every module it imports, directly or not, are free of Flask.

Checked on the source (``import backend.store`` would run the package's ``__init__``, which builds
the Flask app and so imports Flask whatever the store does).
"""

from __future__ import annotations

import ast
from pathlib import Path

BACKEND = Path(__file__).resolve().parent.parent / "backend"
WEB = ("flask", "flask_sock", "common.errors")  # common.errors imports Flask


def _imports(module: str) -> set[str]:
    """The absolute names a ``backend`` module imports (relative imports resolved)."""
    tree = ast.parse((BACKEND / f"{module}.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.module:  # from .model import Room
            names.add(f"backend.{node.module}")
        elif isinstance(node, ast.ImportFrom):  # from . import validation
            names.update(f"backend.{alias.name}" for alias in node.names)
    return names


def test_the_store_and_its_modules_import_no_flask():
    seen, todo = set(), ["store"]
    while todo:
        module = todo.pop()
        seen.add(module)
        for name in _imports(module):
            assert not name.startswith(WEB), f"backend/{module}.py imports {name}"
            if name.startswith("backend.") and name[8:] not in seen:
                todo.append(name[8:])
    assert {"store", "accounts", "refusals", "model"} <= seen

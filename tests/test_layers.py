"""The domain knows no HTTP: the store and every module it imports, directly or not, are free of Flask,
and each refusal it raises is answered with a code and status of the contract.

The imports are checked on the source (``import backend.store`` would run the package's
``__init__``, which builds the Flask app and so imports Flask whatever the store does).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from backend import refusals
from common.codes import STATUS
from tests.backend_fixtures import check_error

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


KINDS = [
    kind
    for kind in vars(refusals).values()
    if isinstance(kind, type) and kind.__bases__ == (refusals.Refused,)
]


def test_every_refusal_is_a_code_of_the_contract():
    assert len(KINDS) >= 9
    assert all(kind.code in STATUS for kind in KINDS)


@pytest.mark.parametrize("kind", KINDS, ids=[kind.__name__ for kind in KINDS])
def test_one_handler_answers_each_refusal_with_its_status(make_backend_app, kind):
    app = make_backend_app()

    @app.get("/test-refusal")
    def refuse():
        raise kind("A sentence for people.", retry_after=7)

    answer = app.test_client().get("/test-refusal")
    assert check_error(answer, STATUS[kind.code], kind.code) == "A sentence for people."
    assert answer.headers["Retry-After"] == "7"

"""Before a launcher imports anything else: are the chat's packages there for this interpreter?

``make run`` installs them into the project's ``.venv``, but ``python3 backend.py`` may be typed
with a Python that lacks them (the system one). Then the launcher carries on under ``.venv``'s
Python when that exists; otherwise it says in one line what is missing and how to install it,
instead of a traceback. ``requirements.txt`` is the one list of what the runtime needs.

Only ``os``, ``re`` and ``pathlib`` are used here: the front server monkey-patches ``socket`` and
``threading`` afterwards, and ``importlib.metadata`` would import both (through ``email``).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements.txt"
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"

# Set in the environment of a launcher that re-ran itself under .venv, so it never loops.
_SWITCHED = "CHAT_SWITCHED_TO_VENV"

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def required() -> list[str]:
    """The distribution names that ``requirements.txt`` lists."""
    names = []
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0]
        match = _NAME.match(line)
        if match and not line.lstrip().startswith("-"):
            names.append(match.group(1))
    return names


def _normal(name: str) -> str:
    """A distribution name as PEP 503 compares them: ``Flask_Sock`` and ``flask-sock`` are one."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed() -> set[str]:
    """The normalised names of the distributions on this interpreter's path (their .dist-info)."""
    names = set()
    for entry in sys.path:
        try:
            listing = os.listdir(entry or ".")
        except OSError:
            continue
        for item in listing:
            if item.endswith(".dist-info"):
                names.add(_normal(item[: -len(".dist-info")].split("-", 1)[0]))
    return names


def missing() -> list[str]:
    """The required distributions this interpreter cannot find."""
    found = installed()
    return [name for name in required() if _normal(name) not in found]


def ensure(launcher: str) -> None:
    """Return if every requirement is installed; else switch to .venv's Python, or exit with one line."""
    absent = missing()
    if not absent:
        return
    in_venv = Path(sys.prefix).resolve() == VENV.resolve()
    if VENV_PYTHON.exists() and not in_venv and not os.environ.get(_SWITCHED):
        os.environ[_SWITCHED] = "1"
        os.execv(VENV_PYTHON, [str(VENV_PYTHON), *sys.argv])
    print(
        f"{launcher}: missing Python packages: {', '.join(absent)}. Install them with `make run`, "
        f"or: {sys.executable} -m pip install -r {os.path.relpath(REQUIREMENTS)}",
        file=sys.stderr,
    )
    sys.exit(1)

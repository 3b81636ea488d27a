"""Shared fixtures: real ``backend.py`` and ``MainWServer.py`` processes, and signed-in HTTP users.

Fixtures (names and behaviour are stable; other test modules build on them):

``data_dir``
    A fresh, empty temporary directory (a ``pathlib.Path``) for one test.

``start_backend(data_dir=None, *extra_args, env=None) -> Proc``
    Runs ``python backend.py --port 0 --data-dir DIR *extra_args`` from the repository root in its
    own process group. ``data_dir`` defaults to the test's ``data_dir``. Returns once the process
    printed its ``http://`` line (20 s at most) and ``GET /healthz`` answered 200; raises
    ``RuntimeError`` with everything the process printed otherwise. ``env`` adds environment
    variables; ``CHAT_*`` variables of the calling shell are never passed on.

``start_front(backend_url, *extra_args, env=None) -> Proc``
    The same for ``python MainWServer.py --port 0 --backend URL``; ``backend_url`` may be a Proc.

``Proc``
    ``.url`` (``http://127.0.0.1:PORT``), ``.port``, ``.popen``, ``.output()`` (all it printed so
    far, stdout and stderr; ``.lines()`` as a list), ``.send_signal(sig)`` (to the master),
    ``.wait(timeout=10)`` and ``.stop(sig=SIGTERM, timeout=10)`` (both return the exit status),
    ``.kill9()`` (SIGKILL to the whole process group, then wait) and, after a stop or a crash,
    ``.restart()``: the same command on the same port and data directory, retried for a few
    seconds while the port is still being released. Every Proc a fixture started
    is stopped in teardown: SIGTERM, a wait, then SIGKILL to its group.

``start_process(script, *args, env=None) -> Proc``
    Like the two above with nothing added to ``args``: for tests of defaults and environment.

``run_launcher(script, *args, env=None, timeout=20) -> subprocess.CompletedProcess``
    Runs ``python SCRIPT ARGS`` to completion (text output): for starts that must fail.

``live`` / ``live_module``
    A backend on a fresh data directory plus a front server pointed at it: ``.url`` (the front
    server), ``.backend`` and ``.front`` (Procs). ``live`` is per test; ``live_module`` is shared by
    a module's tests, so they must not depend on a fresh state (use unique names).

``http_user(name="user", *, password=None, unique=True, url=None) -> requests.Session``
    Registers (or signs in) through the front server with ``POST /api/session`` and returns a
    ``requests.Session`` carrying the session cookie, with ``.username``, ``.password``,
    ``.base_url``, ``.token``, ``.answer`` and ``.status`` (201 registered, 200 signed in): the
    session ``live_http.sign_in`` makes. The name gets a random suffix unless ``unique=False``.
    ``url`` defaults to ``live_module`` when the test uses it, else to ``live``. A refused sign-in
    raises ``RuntimeError`` with the answer. Sessions are closed in teardown.

Every launched process gets the tests' internal secret (``CHAT_INTERNAL_SECRET``, see
``live_procs.INTERNAL_SECRET``), as a deployment's pair would; ``env={"CHAT_INTERNAL_SECRET": ""}``
starts one without.

``redis_server`` / ``cluster(fronts=2, *front_args)``
    A real ``redis-server`` on a free port, and one backend with several front servers joined
    through it (``tests/redis_server.py``).

Mark tests that use the processes with ``@pytest.mark.live``. ``Proc`` and ``Launcher`` live in
``tests/live_procs.py``; the plain helpers for HTTP calls (``sign_in``, ``unique``, ``make_room``,
``open_dm``, ``post``, ``general_room``, ``cookie_attributes``) in ``tests/live_http.py``; the
WebSocket client (``ws_connect``, ``Client`` and the ``stack`` fixture) in ``tests/ws_client.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests
from live_procs import REPO, Launcher, Live, Proc, clean_env

from tests.live_http import sign_in
from tests.live_http import unique as unique_name

# The in-process fixtures of the backend's API tests, the store's tests, the unit tests' clock, the
# WebSocket tests, the several-front-servers tests (Redis) and the browser tests live beside their
# helpers; naming them here makes them
# visible to every test module.
pytest_plugins = (
    "tests.backend_fixtures",
    "tests.store_helpers",
    "tests.ws_client",
    "tests.redis_server",
    "tests.timing",
    "browser_helpers",
)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A fresh, empty data directory for one test."""
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def _launcher():
    launcher = Launcher()
    yield launcher
    launcher.close()


@pytest.fixture
def start_backend(_launcher: Launcher, data_dir: Path):
    """Factory: start a backend; see the module docstring."""

    default_dir = data_dir

    def start(data_dir=None, *extra_args: str, env: dict[str, str] | None = None) -> Proc:
        return _launcher.backend(default_dir if data_dir is None else data_dir, *extra_args, env=env)

    return start


@pytest.fixture
def start_front(_launcher: Launcher):
    """Factory: start a front server; see the module docstring."""
    return _launcher.front


@pytest.fixture
def start_process(_launcher: Launcher):
    """Factory: start a launcher with exactly the given arguments; see the module docstring."""
    return _launcher.process


@pytest.fixture
def run_launcher():
    """Factory: run a launcher to completion and return the CompletedProcess (text)."""

    def run(script: str, *args: str, env: dict[str, str] | None = None, timeout: float = 20):
        return subprocess.run(
            [sys.executable, script, *args],
            cwd=REPO,
            env=clean_env(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@pytest.fixture
def live(start_backend, start_front) -> Live:
    """A backend and a front server for one test."""
    backend = start_backend()
    return Live(backend, start_front(backend))


@pytest.fixture(scope="module")
def live_module(tmp_path_factory):
    """A backend and a front server shared by one test module."""
    launcher = Launcher()
    try:
        backend = launcher.backend(tmp_path_factory.mktemp("data"))
        yield Live(backend, launcher.front(backend))
    finally:
        launcher.close()


@pytest.fixture
def http_user(request):
    """Factory: a requests.Session signed in through the front server; see the module docstring."""
    sessions: list[requests.Session] = []

    def make(name: str = "user", *, password: str | None = None, unique: bool = True, url: str | None = None):
        if url is None:
            stack = "live_module" if "live_module" in request.fixturenames else "live"
            url = request.getfixturevalue(stack).url
        session = sign_in(url, unique_name(name) if unique else name, password)
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        session.close()

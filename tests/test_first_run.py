"""The first thing every user does: start the chat from a clean clone, as the README says.

``make run`` is started on a virtualenv built from ``requirements.txt`` alone (no test
dependency can hide a missing runtime one), cached under ``.cache/`` by the file's hash, so a
changed ``requirements.txt`` always gets a fresh one. The launchers are also run by a Python that
has none of the packages: they switch to the project's ``.venv``, or say in one line what is
missing and how to install it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.live_procs import REPO, clean_env

pytestmark = [pytest.mark.live, pytest.mark.slow]

# Seconds for `make run` to build its virtualenv (a pip install, the first time) and start.
FIRST_START_TIMEOUT = 300
LAUNCHERS = ["backend.py", "MainWServer.py"]


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def runtime_venv() -> Path:
    """Where `make run` builds the runtime-only virtualenv for today's ``requirements.txt``."""
    digest = hashlib.sha256((REPO / "requirements.txt").read_bytes()).hexdigest()[:16]
    venv = REPO / ".cache" / f"runtime-venv-{digest}"
    for stale in venv.parent.glob("runtime-venv-*"):
        if stale != venv:
            shutil.rmtree(stale, ignore_errors=True)
    return venv


@pytest.fixture(scope="module")
def bare_python(tmp_path_factory) -> Path:
    """A Python with the standard library only: a virtualenv made without pip."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return venv / "bin" / "python"


def launch(argv: list[str]) -> subprocess.Popen:
    """Start ``argv`` in the repository as a user's terminal would, in a process group of its own."""
    return subprocess.Popen(
        argv,
        cwd=REPO,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_for_health(url: str, proc: subprocess.Popen, timeout: float) -> dict:
    """The front server's /healthz once it says the backend is up; fails if ``proc`` ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited with {proc.returncode}:\n{proc.stdout.read()}"
        try:
            answer = requests.get(f"{url}/healthz", timeout=2).json()
            if answer.get("backend") == "ok":
                return answer
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not become healthy within {timeout} s")


def stop(proc: subprocess.Popen) -> str:
    """Ctrl-C, as a user stops `make run`: the whole process group gets SIGINT. Its output."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
    try:
        output, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        raise AssertionError(f"did not stop on Ctrl-C:\n{output}") from None
    return output


def test_make_run_serves_the_app_from_the_runtime_requirements_alone(tmp_path):
    venv = runtime_venv()
    backend_port, front_port = free_port(), free_port()
    make = launch(
        [
            "make",
            "run",
            f"VENV={venv}",
            f"BACKEND_ARGS=--port {backend_port} --data-dir {tmp_path / 'chats'}",
            f"FRONT_ARGS=--port {front_port} --backend http://127.0.0.1:{backend_port}",
        ]
    )
    url = f"http://127.0.0.1:{front_port}"
    try:
        assert wait_for_health(url, make, FIRST_START_TIMEOUT) == {"status": "ok", "backend": "ok"}
        page = requests.get(url, timeout=5)
        assert page.status_code == 200
        assert '<script type="module"' in page.text
        signed_in = requests.post(
            f"{url}/api/session", json={"username": "first", "password": "first-run-1234"}, timeout=10
        )
        assert signed_in.status_code == 201
        # The two processes share a fresh internal secret: nobody else may call the backend.
        refused = requests.get(f"http://127.0.0.1:{backend_port}/internal/rooms", timeout=5)
        assert refused.status_code == 401
    finally:
        output = stop(make)
    assert f"front server listening on {url}" in output
    # Nothing of the tests' own set was in that virtualenv: the runtime stood on its own.
    probe = subprocess.run([str(venv / "bin" / "python"), "-c", "import requests"], capture_output=True)
    assert probe.returncode != 0
    for port in (backend_port, front_port):
        with socket.socket() as check:
            assert check.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers after Ctrl-C"


@pytest.mark.parametrize("script", LAUNCHERS)
def test_a_python_without_the_packages_is_told_what_to_install(bare_python, tmp_path, script):
    """In a clone with no .venv: one line naming what is missing and the command that installs it."""
    clone = tmp_path / "clone"
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    for name in files.stdout.splitlines():
        if (REPO / name).is_file():
            (clone / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, clone / name)
    result = subprocess.run(
        [str(bare_python), script, "--port", "0"],
        cwd=clone,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"{script}: missing Python packages: flask, ")
    assert "make run" in lines[0]
    assert "-m pip install -r requirements.txt" in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("script", LAUNCHERS)
def test_a_python_without_the_packages_carries_on_under_the_projects_venv(bare_python, tmp_path, script):
    """`python3 backend.py` with the system Python, after `make run` made .venv: it just starts."""
    assert (REPO / ".venv" / "bin" / "python").exists(), "make test builds .venv before the tests"
    args = ["--port", "0", "--data-dir", str(tmp_path)] if script == "backend.py" else ["--port", "0"]
    proc = launch([str(bare_python), script, *args])
    try:
        line = proc.stdout.readline()
        while line and "http://" not in line:
            line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line, line
        url = line.strip().rsplit(" ", 1)[1]
        assert requests.get(f"{url}/healthz", timeout=5).status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=20)

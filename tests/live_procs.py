"""Launched server processes for the live tests: ``Proc`` (one backend or front server) and
``Launcher`` (starts Procs, stops them all at teardown). The fixtures in ``conftest.py`` wrap these;
their behaviour is described there.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT = 20.0
_ADDRESS = re.compile(r"http://[^\s/]+")

# The internal secret every launched backend and front server gets (CHAT_INTERNAL_SECRET), so that
# every live test runs as a deployment does. A test of a process without one passes
# ``env={"CHAT_INTERNAL_SECRET": ""}`` (an empty variable counts as unset).
INTERNAL_SECRET = secrets.token_urlsafe(24)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a launched process: ours without CHAT_* variables, the tests' internal
    secret, plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CHAT_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["CHAT_INTERNAL_SECRET"] = INTERNAL_SECRET
    env.update(extra or {})
    return env


class Proc:
    """One launched server process (a gunicorn master and its worker) and what it printed."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None = None):
        self.name = name
        self.argv = list(argv)
        self.env = env
        self.url = ""
        self.port = 0
        self.popen: subprocess.Popen | None = None
        self._lines: list[str] = []  # every run's, restarts included
        self._lock = threading.Lock()
        self._readers: list[threading.Thread] = []

    # -- starting -------------------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> Proc:
        """Launch, wait for the ``http://`` line and a 200 from /healthz, or raise RuntimeError."""
        first = len(self.lines())  # after a restart, the earlier run's lines stay in output()
        self.popen = subprocess.Popen(
            [sys.executable, *self.argv],
            cwd=REPO,
            env=clean_env(self.env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            # Its own process group, so a crash test can SIGKILL the master and worker together
            # and teardown can sweep up a worker that outlived its master.
            start_new_session=True,
        )
        found = threading.Event()
        self._readers = [
            threading.Thread(target=self._read, args=(pipe, found), daemon=True)
            for pipe in (self.popen.stdout, self.popen.stderr)
        ]
        for reader in self._readers:
            reader.start()
        deadline = time.monotonic() + timeout
        while not found.wait(0.05):
            if self.popen.poll() is not None:
                self._fail("exited before printing its address")
            if time.monotonic() > deadline:
                self._fail(f"printed no http:// address within {timeout:.0f} s")
        line = next(line for line in self.lines()[first:] if "http://" in line)
        self.url = _ADDRESS.search(line).group(0)
        self.port = int(self.url.rsplit(":", 1)[1])
        while True:
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if self.popen.poll() is not None or time.monotonic() > deadline:
                self._fail("never answered GET /healthz with 200")
            time.sleep(0.05)

    def _read(self, pipe, found: threading.Event) -> None:
        with pipe:
            for raw in iter(pipe.readline, b""):
                line = raw.decode("utf-8", "replace")
                with self._lock:
                    self._lines.append(line)
                if "http://" in line:
                    found.set()

    def _fail(self, what: str) -> None:
        status = self.popen.poll()
        self.kill9()
        raise RuntimeError(
            f"{self.name} {what} (exit status {status}); command: {' '.join(self.argv)}\n"
            f"--- it printed ---\n{self.output()}"
        )

    def restart(self, timeout: float = START_TIMEOUT) -> Proc:
        """Start the same command again on the same port (and data directory) after a stop."""
        assert self.popen is not None and self.popen.poll() is not None, "stop or kill9 it first"
        self.argv += ["--port", str(self.port)]  # argparse keeps the last --port
        deadline = time.monotonic() + 5
        while True:
            tried = len(self.lines())
            try:
                return self.start(timeout)
            except RuntimeError:
                # A SIGKILLed worker can hold the port for a moment after its master is reaped.
                if "in use" not in "".join(self.lines()[tried:]) or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    # -- looking and stopping -------------------------------------------------------------------

    def lines(self) -> list[str]:
        """The lines printed so far, stdout and stderr interleaved as they were read."""
        with self._lock:
            return list(self._lines)

    def output(self) -> str:
        """Everything printed so far, as one string."""
        return "".join(self.lines())

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the master process only."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(sig)

    def wait(self, timeout: float = 10) -> int:
        """Wait for the master to exit and for its output to be read; its exit status."""
        status = self.popen.wait(timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        return status

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        """Send ``sig`` (SIGTERM by default) and wait; SIGKILL the group if it hangs. The status."""
        self.send_signal(sig)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise
        finally:
            self._kill_group()

    def kill9(self) -> None:
        """SIGKILL the whole process group (master and worker), as a crash would, and wait."""
        self._kill_group()
        if self.popen is not None:
            self.wait()

    def _kill_group(self) -> None:
        if self.popen is None:
            return
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class Launcher:
    """Starts Procs and stops them all at teardown."""

    def __init__(self):
        self.procs: list[Proc] = []

    def backend(self, data_dir, *extra_args: str, env: dict[str, str] | None = None) -> Proc:
        """Start ``backend.py`` on a free port with its data in ``data_dir``."""
        argv = ["backend.py", "--port", "0", "--data-dir", str(data_dir), *extra_args]
        return self._start(Proc("backend", argv, env))

    def front(self, backend_url, *extra_args: str, env: dict[str, str] | None = None) -> Proc:
        """Start ``MainWServer.py`` on a free port, relaying to ``backend_url`` (a URL or a Proc)."""
        url = backend_url.url if isinstance(backend_url, Proc) else str(backend_url)
        argv = ["MainWServer.py", "--port", "0", "--backend", url, *extra_args]
        return self._start(Proc("front server", argv, env))

    def process(self, script: str, *args: str, env: dict[str, str] | None = None) -> Proc:
        """Start ``script`` with exactly ``args`` (no --port or --data-dir added)."""
        return self._start(Proc(Path(script).stem, [script, *args], env))

    def _start(self, proc: Proc) -> Proc:
        self.procs.append(proc)
        return proc.start()

    def close(self) -> None:
        """Stop every Proc (SIGTERM, then SIGKILL to its group) and show what each printed."""
        running = [proc for proc in self.procs if proc.popen is not None]
        # Signal them all first, so that their grace periods run side by side.
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        for proc in running:
            try:
                proc.stop(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            # Shown by pytest only when the test failed.
            print(f"--- {proc.name} ({' '.join(proc.argv)}) printed ---\n{proc.output()}")


class Live:
    """A running backend and front server: ``.url`` is the front server's."""

    def __init__(self, backend: Proc, front: Proc):
        self.backend = backend
        self.front = front
        self.url = front.url

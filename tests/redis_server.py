"""A real ``redis-server`` for the tests of several front servers, on a free port of its own.

``tests/conftest.py`` registers this module as a pytest plugin, so the fixtures are there by name:

``redis_server``
    A :class:`RedisServer` started for one test (Debian's ``/usr/bin/redis-server``, no
    persistence, bound to loopback) and stopped at teardown: ``.url``
    (``redis://127.0.0.1:PORT/0``), ``.client()`` (a redis-py client), ``.kill9()``, ``.start()``
    again on the same port (a restart finds an empty Redis, as after a crash without persistence),
    ``.pause()`` and ``.resume()`` (SIGSTOP and SIGCONT: a Redis that hangs).

``cluster``
    Factory ``cluster(fronts=2, *front_args)``: one backend, one Redis and ``fronts`` front
    servers started with ``--redis``; returns a :class:`Cluster` (``.backend``, ``.redis``,
    ``.fronts``, ``.urls``). Every process is stopped at teardown.

The tests are skipped, saying why, on a machine without ``redis-server``; ``.ci/run`` installs it.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from live_procs import Proc

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
START_TIMEOUT = 10.0


def free_port() -> int:
    """A TCP port nobody listens on right now (the kernel's choice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """One ``redis-server`` process on ``port``, its files in ``workdir``."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.popen: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        """Start it (again, on the same port) and wait until it answers PING."""
        self.popen = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with self.client() as client:
                    client.ping()
                return self
            except redis.RedisError:
                if self.popen.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.05)

    def client(self) -> redis.Redis:
        """A redis-py client of this server (close it, or use it in a ``with``)."""
        return redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=1)

    def kill9(self) -> None:
        """SIGKILL it, as a crash would; its data (none on disk) is gone."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)

    def pause(self) -> None:
        """SIGSTOP: connections stay open, nothing answers."""
        self.popen.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        self.popen.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Stop it for good (teardown)."""
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGCONT)
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)


@pytest.fixture
def redis_server(tmp_path: Path):
    """A redis-server for one test; see the module docstring."""
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = RedisServer(workdir).start()
    yield server
    server.stop()


@dataclass
class Cluster:
    """A backend, a Redis and the front servers joined through it."""

    backend: Proc
    redis: RedisServer
    fronts: list[Proc]

    @property
    def urls(self) -> list[str]:
        """The front servers' addresses, in the order they were started."""
        return [front.url for front in self.fronts]


@pytest.fixture
def cluster(redis_server: RedisServer, start_backend, start_front):
    """Factory: a backend, ``redis_server`` and ``fronts`` front servers on it; see the module docstring."""

    def make(fronts: int = 2, *front_args: str) -> Cluster:
        backend = start_backend()
        started = [start_front(backend, "--redis", redis_server.url, *front_args) for _ in range(fronts)]
        return Cluster(backend, redis_server, started)

    return make

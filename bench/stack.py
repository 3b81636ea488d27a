"""The real stack under test: backend.py and MainWServer.py on a fresh data directory, plus users.

Rate limits are turned off with the backend's flags (a limit of 0 is off) so the benchmark
measures the chat, not its throttles. Registration costs a slow password hash on the backend, so
the stack signs up a moderate number of users once and the scenarios open several WebSockets per
user where they need many clients.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from bench.http import HttpClient
from bench.procs import Server

NO_LIMITS = [
    "--message-burst", "0", "--message-rate", "0",
    "--room-burst", "0", "--room-rate", "0",
    "--login-failures", "0",
    "--upload-burst", "0", "--upload-rate", "0",
    # Thousands of people from one machine: the limits per client address cannot tell them apart.
    "--registration-burst", "0", "--address-login-failures", "0",
    "--membership-burst", "0", "--catch-up-burst", "0",
]  # fmt: skip
PASSWORD = "bench-password-1"


class Stack:
    """A backend and a front server on loopback, and the users signed in on them."""

    def __init__(self, data_dir: Path | None = None, *, backend_flags: list[str] | None = None):
        self.own_dir = data_dir is None
        self.data_dir = Path(tempfile.mkdtemp(prefix="chat-bench-")) if data_dir is None else data_dir
        self.backend_flags = NO_LIMITS if backend_flags is None else backend_flags
        self.backend: Server | None = None
        self.front: Server | None = None
        self.cookies: dict[str, str] = {}

    def start(self) -> Stack:
        """Start the backend, then the front server pointed at it; both answer /healthz on return."""
        self.backend = Server(
            "backend", ["backend.py", "--port", "0", "--data-dir", str(self.data_dir), *self.backend_flags]
        )
        self.front = Server("front", ["MainWServer.py", "--port", "0", "--backend", self.backend.url])
        return self

    def restart_front(self) -> None:
        """A fresh front server on the same backend: sessions stay valid, memory starts clean."""
        self.front.stop()
        self.front = Server("front", ["MainWServer.py", "--port", "0", "--backend", self.backend.url])

    @property
    def url(self) -> str:
        """The front server's base URL."""
        return self.front.url

    @property
    def ws_url(self) -> str:
        """The front server's WebSocket address."""
        return "ws" + self.front.url.removeprefix("http") + "/ws"

    def servers(self) -> dict:
        """The processes to meter, by name."""
        return {"front": self.front, "backend": self.backend}

    async def sign_up(self, count: int, prefix: str = "bench", concurrency: int = 4) -> list[str]:
        """Register ``count`` users named ``{prefix}{i}`` (or sign them in); keep their cookies."""
        gate = asyncio.Semaphore(concurrency)
        names = [f"{prefix}{i:05d}" for i in range(count)]

        async def one(name: str) -> None:
            async with gate:
                client = HttpClient(self.url)
                await client.json("POST", "/api/session", {"username": name, "password": PASSWORD})
                await client.close()
                if not client.cookie:
                    raise RuntimeError(f"signing in {name} set no cookie")
                self.cookies[name] = client.cookie

        await asyncio.gather(*(one(n) for n in names if n not in self.cookies))
        return names

    async def create_room(self, name: str, members: list[str]) -> str:
        """Create a private room owned by ``members[0]`` holding all ``members``; return its id."""
        client = HttpClient(self.url, self.cookies[members[0]])
        body = await client.json(
            "POST", "/api/rooms", {"name": name, "visibility": "private", "members": members[1:]}
        )
        await client.close()
        return body["room"]["id"]

    def stop(self) -> None:
        """Stop both processes and remove the data directory if this stack made it."""
        for server in (self.front, self.backend):
            if server is not None:
                server.stop()
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

"""A lean asyncio HTTP/1.1 client with keep-alive, enough for the contract's JSON API.

The load generator is one asyncio process, so its HTTP traffic (sign-in, rooms, history reads,
long polls) runs on the same loop as its WebSockets instead of in threads. One
:class:`HttpClient` holds one keep-alive connection, as a browser tab's polling loop would.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import orjson


class HttpError(Exception):
    """A response with an unexpected status, carrying the status and body."""

    def __init__(self, method: str, path: str, status: int, body: bytes):
        super().__init__(f"{method} {path} answered {status}: {body[:300]!r}")
        self.status = status
        self.body = body


class HttpClient:
    """One keep-alive connection to ``base_url``; sends the cookie it was given or later received."""

    def __init__(self, base_url: str, cookie: str = ""):
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.cookie = cookie
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        """Open the keep-alive connection now (as an open page already holds one), so that a
        request timed later does not include the connection's setup."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, body=None, *, timeout: float = 60.0):
        """Send one request; return ``(status, headers, body_bytes)``. Reconnects once if stale.

        On an open connection the request is written before this first waits (within the
        caller's task, not one the event loop starts later), so a clock read just before the call
        times it from when it left, as a WebSocket frame's send is timed (scenario 8).
        """
        for attempt in (0, 1):
            try:
                async with asyncio.timeout(timeout):
                    return await self._exchange(method, path, body)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def json(self, method: str, path: str, body=None, *, ok=(200, 201), timeout: float = 60.0):
        """Send a request and decode the JSON answer, raising :class:`HttpError` on another status."""
        status, _headers, data = await self.request(method, path, body, timeout=timeout)
        if status not in ok:
            raise HttpError(method, path, status, data)
        return orjson.loads(data) if data else None

    async def _exchange(self, method: str, path: str, body):
        await self.connect()
        payload = orjson.dumps(body) if body is not None else b""
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Connection: keep-alive"]
        if payload or method in ("POST", "PUT", "PATCH"):
            head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        if self.cookie:
            head.append(f"Cookie: {self.cookie}")
        self._writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        status, headers = await self._read_head()
        data = await self._read_body(headers, method)
        if "set-cookie" in headers:
            self._take_cookies(headers["set-cookie"])
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, headers, data

    async def _read_head(self):
        raw = await self._reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                name = name.strip().lower()
                # Several Set-Cookie headers are kept together, separated by a newline.
                headers[name] = headers[name] + "\n" + value.strip() if name in headers else value.strip()
        return status, headers

    async def _read_body(self, headers: dict, method: str) -> bytes:
        if method == "HEAD":
            return b""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
                chunk = await self._reader.readexactly(size + 2)
                if size == 0:
                    return b"".join(chunks)
                chunks.append(chunk[:-2])
        if "content-length" in headers:
            return await self._reader.readexactly(int(headers["content-length"]))
        data = await self._reader.read()
        await self.close()
        return data

    def _take_cookies(self, set_cookie: str) -> None:
        jar = dict(part.split("=", 1) for part in self.cookie.split("; ") if "=" in part)
        for line in set_cookie.split("\n"):
            name, _, value = line.split(";", 1)[0].strip().partition("=")
            if value:
                jar[name] = value
            else:
                jar.pop(name, None)
        self.cookie = "; ".join(f"{k}={v}" for k, v in jar.items())

    async def close(self) -> None:
        """Close the connection; the next request opens a new one."""
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except (ConnectionError, OSError):
                pass
        self._reader = self._writer = None

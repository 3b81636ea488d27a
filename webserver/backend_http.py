"""The pooled HTTP transport to the backend, under :class:`webserver.backend_client.BackendClient`.

One urllib3 connection pool shared by all greenlets, short timeouts so a dead or stuck backend
becomes a ``503 backend_unavailable`` within two seconds instead of a hung page, and one bounded
retry for requests that are safe to repeat (GETs, and whatever the caller marks ``repeatable``)
whose connection failed.

urllib3 directly rather than ``requests``: the client is on the path of every message and every
poll, and ``requests``' per-call preparation and cookie merging was about a quarter of the front
server's CPU in the benchmark's profile (docs/benchmark.md). It also sends the path exactly as
given, where ``requests`` would rewrite ``.`` and ``..`` segments and turn a request about a room
or user named ``..`` into one about another path.

The pool never carries cookies (urllib3 has no cookie jar). The backend knows callers only by
``Authorization: Bearer``, set per call, so one user's credential never rides on another's request.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
import urllib3
from gevent import monkey
from urllib3.exceptions import HTTPError, NewConnectionError, ProtocolError, TimeoutError

from common import secret
from common.feed import FRONT_HEADER, new_front_id

DEFAULT_BACKEND_URL = "http://127.0.0.1:8756"

# Seconds. The backend is on loopback: a connect that takes longer than half a second means it
# is not there (or its listen queue is full), and 1.5 s more for the answer keeps the worst case
# for a caller within the two seconds the API promises before it answers 503.
CONNECT_TIMEOUT = 0.5
READ_TIMEOUT = 1.5

# A GET whose connection was refused or reset is tried once more after this pause: it covers a
# pooled keep-alive connection the backend closed while idle, and a backend that is restarting.
RETRY_PAUSE = 0.05

# Connections kept open to the backend. Long-polls hold one each for up to 35 s, so the pool is
# large; past it urllib3 opens extra connections and closes them after use rather than waiting.
POOL_SIZE = 128

Timeout = float | tuple[float, float] | None

# The system's poll, not gevent's: asking whether a socket is readable right now needs no loop.
_poll = monkey.get_original("select", "poll")


def _still_open(sock) -> bool:
    """Whether a pooled connection can carry another request: nothing is waiting to be read on it
    (neither the backend's close nor stray bytes). urllib3 asks the same, but through gevent's
    ``poll``, which builds a poll object and its watchers on every reuse: 6.6% of this process's
    CPU in the fan-out benchmark (docs/benchmark.md). One system call does it."""
    poller = _poll()
    poller.register(sock.fileno(), select.POLLIN)
    return not poller.poll(0)


class _CheckedCheaply:
    """A urllib3 connection checked before reuse with one system call (:func:`_still_open`)."""

    sock: object

    @property
    def is_connected(self) -> bool:
        return self.sock is not None and _still_open(self.sock)


class _Connection(_CheckedCheaply, urllib3.connection.HTTPConnection):
    pass


class _SecureConnection(_CheckedCheaply, urllib3.connection.HTTPSConnection):
    pass


class BackendUnavailable(Exception):
    """The backend could not be reached, or did not answer in time, or answered garbage."""


@dataclass
class BackendResponse:
    """One answer of the backend: status, body parsed as JSON (None when empty or not JSON)."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


class BackendHttp:
    """HTTP to ``backend.py`` at ``base_url`` (e.g. ``http://127.0.0.1:8756``): :meth:`request`."""

    def __init__(
        self,
        base_url: str = DEFAULT_BACKEND_URL,
        *,
        internal_secret: str | None = None,
        on_message_stored: Callable[[float], None] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        # Told the seconds each stored message took, from the call to the answer: the delay the
        # chat feels, which files yield to (webserver/file_pacing.py).
        self._on_message_stored = on_message_stored
        # Sent on every call: the internal secret (common/secret.py), which the backend asks for
        # when it has one, and this front server's id (common/feed.py), by which the backend knows
        # which events it hands back in answers.
        self._every_call_headers = {FRONT_HEADER: new_front_id()}
        if internal_secret:
            self._every_call_headers[secret.HEADER] = internal_secret
        parts = urlsplit(self.base_url)
        pool_class = urllib3.HTTPSConnectionPool if parts.scheme == "https" else urllib3.HTTPConnectionPool
        # block=False: past POOL_SIZE, extra connections are opened and closed after use rather
        # than making a caller wait for a free one.
        self._pool = pool_class(parts.hostname, parts.port, maxsize=POOL_SIZE, block=False, retries=False)
        self._pool.ConnectionCls = _SecureConnection if parts.scheme == "https" else _Connection
        self._prefix = parts.path

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        params: Any = None,
        timeout: Timeout = None,
        data: bytes | None = None,
        repeatable: bool | None = None,
        client: str | None = None,
    ) -> BackendResponse:
        """Call the backend and return its answer, whatever its status.

        ``path`` starts with ``/`` and is percent-encoded; it is sent exactly as given. ``token``
        becomes ``Authorization: Bearer``. ``json`` is a value to send as JSON; ``data`` is an
        already encoded JSON body relayed as is (the backend judges whether it is valid).
        ``timeout`` is the read timeout in seconds, or a ``(connect, read)`` pair; the default is
        0.5 s to connect and 1.5 s to answer. Raises :class:`BackendUnavailable` when the backend
        cannot be reached or is too slow. A connection error (never a timeout) is tried once more
        when ``repeatable`` is true, which is the default for GET; a POST whose effect happens once
        however often it is sent (a message with its ``client_id``) may say so too. ``client`` is
        the address of the client the call is made for (``X-Chat-Client-Address``, for the
        backend's limits per address; see :mod:`webserver.clients`).
        """
        headers = {"Accept": "application/json", **self._every_call_headers}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if client:
            headers["X-Chat-Client-Address"] = client
        if json is not None:
            data = orjson.dumps(json)
        if data is not None:
            headers["Content-Type"] = "application/json"
        url = self._prefix + path + (f"?{urlencode(params)}" if params else "")
        connect, read = _timeouts(timeout)
        if repeatable is None:
            repeatable = method.upper() == "GET"
        attempts = 2 if repeatable else 1
        started = time.monotonic()
        for attempt in range(attempts):
            try:
                answer = self._pool.urlopen(
                    method,
                    url,
                    body=data,
                    headers=headers,
                    timeout=urllib3.Timeout(connect=connect, read=read),
                    redirect=False,
                )
                break
            # Before TimeoutError: urllib3 makes a refused connection a kind of connect timeout.
            except (NewConnectionError, ProtocolError, ConnectionError) as error:
                if attempt + 1 < attempts:
                    time.sleep(RETRY_PAUSE)
                    continue
                raise self._unavailable(f"cannot be reached ({_reason(error)})") from None
            except TimeoutError as error:
                # A timeout is never retried: the caller's two seconds are already spent.
                raise self._unavailable(f"did not answer in time ({error.__class__.__name__})") from None
            except HTTPError as error:
                raise self._unavailable(f"failed: {_reason(error)}") from None
        self._check_secret_accepted(answer)
        stored = method == "POST" and path.endswith("/messages") and answer.status < 300
        if stored and self._on_message_stored:
            self._on_message_stored(time.monotonic() - started)
        return BackendResponse(answer.status, _parse(answer.data), _kept_headers(answer.headers))

    def stream(
        self,
        method: str,
        path: str,
        *,
        token: str | None,
        headers: dict[str, str],
        body: Any = None,
        timeout: Timeout = None,
    ) -> urllib3.BaseHTTPResponse:
        """Call the backend with ``body`` (an iterable of bytes, sent as it is produced) and return
        the raw answer unread, for a caller that passes it on as it arrives (files both ways).

        The caller must ``release_conn()`` the answer once read. Never retried: an upload's body
        cannot be sent twice. Raises :class:`BackendUnavailable` like :meth:`request`.
        """
        headers = {**headers, **self._every_call_headers}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        connect, read = _timeouts(timeout)
        try:
            answer = self._pool.urlopen(
                method,
                self._prefix + path,
                body=body,
                headers=headers,
                timeout=urllib3.Timeout(connect=connect, read=read),
                redirect=False,
                preload_content=False,
                chunked=body is not None and "Content-Length" not in headers,
            )
        except TimeoutError as error:
            raise self._unavailable(f"did not answer in time ({error.__class__.__name__})") from None
        except (HTTPError, ConnectionError) as error:
            raise self._unavailable(f"failed: {_reason(error)}") from None
        try:
            self._check_secret_accepted(answer)
        except BackendUnavailable:
            answer.release_conn()
            raise
        return answer

    def close(self) -> None:
        """Close the pooled connections."""
        self._pool.close()

    def _check_secret_accepted(self, answer: urllib3.BaseHTTPResponse) -> None:
        """Raise BackendUnavailable when the backend refused this server's internal secret.

        That 401 is a misconfiguration of the two processes, not a user's expired session: relayed
        as it is, it would sign every user out. Callers get a 503 and the operator the cause.
        """
        if answer.status == 401 and answer.headers.get(secret.HEADER) == secret.REFUSED:
            which = "a different one" if secret.HEADER in self._every_call_headers else "none"
            raise BackendUnavailable(
                f"The backend at {self.base_url} refused this front server's internal secret (this "
                f"front server has {which}); give both processes the same --internal-secret "
                f"({secret.ENVIRONMENT})."
            )

    def _unavailable(self, what: str) -> BackendUnavailable:
        return BackendUnavailable(
            f"The backend at {self.base_url} {what}; check that backend.py is running there."
        )


def _timeouts(timeout: Timeout) -> tuple[float, float]:
    """The (connect, read) pair from the caller's timeout argument."""
    if timeout is None:
        return (CONNECT_TIMEOUT, READ_TIMEOUT)
    if isinstance(timeout, tuple):
        return timeout
    return (CONNECT_TIMEOUT, float(timeout))


def _parse(content: bytes) -> Any:
    """The answer's body as JSON, or None when it is empty or not JSON."""
    if not content:
        return None
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return None


# The backend's answer headers the front server has a use for; the rest (Server, Date,
# Content-Length, Connection) belong to that hop only.
_KEPT_HEADERS = ("Retry-After", "Allow", "Content-Type")


def _kept_headers(headers: Any) -> dict[str, str]:
    return {name: headers[name] for name in _KEPT_HEADERS if name in headers}


def _reason(error: Exception) -> str:
    """A short cause for an operator: the innermost exception's message, not the whole chain."""
    cause: BaseException = error
    while cause.__context__ is not None and cause.__context__ is not cause:
        cause = cause.__context__
    text = str(cause) or cause.__class__.__name__
    return text if len(text) <= 200 else text[:197] + "..."

"""Files through the front server, streamed both ways (docs/api.md, "Files").

An upload's body is passed to the backend as it arrives from the client, in chunks, and a
download's body back to the client as it is read from the backend: neither is ever whole in this
process's memory. Everything else an upload or download needs (the access check, the limit, the
type, the headers) is the backend's answer, relayed. The request headers a download may carry
(Range, If-None-Match, If-Range) are passed on, and the answer's serving headers passed back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import gevent
import orjson
from flask import Blueprint, Response, current_app, request
from flask.typing import ResponseReturnValue
from urllib3.exceptions import HTTPError

from common.errors import ApiError
from common.limits import MAX_UPLOAD_MB
from webserver import sessions
from webserver.backend_client import BackendClient, BackendResponse, BackendUnavailable
from webserver.file_pacing import FilePacer
from webserver.relay import raw_path, reply

bp = Blueprint("files", __name__)
log = logging.getLogger(__name__)

# Bytes passed on at a time. gunicorn reads a request body ahead up to 1 MiB per recv() and keeps
# the rest of what it read in a buffer that every smaller read copies again: read 64 KiB at a time,
# a 1 MiB recv() was copied eight times over (38% of this process's CPU while 20 files of 5 MiB
# moved, docs/benchmark.md). Read whole MiBs, and the per-piece cost (a turn of the loop, a
# send) is paid 16 times less often too. Two or three pieces in flight per transfer stay a few MiB.
CHUNK = 1024 * 1024

# Seconds a file's next piece waits at most for the front server's loop to be idle (see
# _let_others_run): at least 20 MiB/s per transfer however busy the chat keeps the process.
IDLE_WAIT = 0.05

# Seconds (connect, answer). An upload's answer comes once the backend has the whole body, has
# fsynced it and made a thumbnail: a large image on a busy disk takes a few seconds. A download's
# first bytes come at once (sendfile), but a slow client reading a large file keeps it open.
UPLOAD_TIMEOUT = (0.5, 60.0)
DOWNLOAD_TIMEOUT = (0.5, 30.0)

# What the backend answers beside the multipart envelope: the file's bytes may be this much over
# the upload limit before this process stops reading (the backend counts the file exactly).
ENVELOPE_BYTES = 64 * 1024

# Files moving to or from the backend at once, each way. Every transfer holds one of the backend's
# request threads (32 by default) for as long as it lasts; past these, a transfer waits here, in a
# greenlet that costs nothing, so the threads that store and feed messages stay free. Measured:
# 20 uploads of 5 MiB at once with no bound took every backend thread and held the chat's messages
# back by seconds (docs/benchmark.md, scenario 9).
TRANSFERS_EACH_WAY = 4
_uploads = threading.BoundedSemaphore(TRANSFERS_EACH_WAY)
_downloads = threading.BoundedSemaphore(TRANSFERS_EACH_WAY)

_FORWARDED_REQUEST = ("Range", "If-None-Match", "If-Range", "If-Modified-Since")
_FORWARDED_ANSWER = (
    "Content-Type",
    "Content-Length",
    "Content-Range",
    "Content-Disposition",
    "Accept-Ranges",
    "ETag",
    "Last-Modified",
    "Cache-Control",
    "Content-Security-Policy",
)


def _backend() -> BackendClient:
    return current_app.extensions["chat.backend"]


def _pacer() -> FilePacer:
    return current_app.extensions["chat.file_pacer"]


@bp.post("/api/rooms/<_room>/files")
def upload(_room: str) -> ResponseReturnValue:
    """Pass the multipart body on as it comes; the backend's JSON answer back."""
    limit_mb = current_app.config.get("MAX_UPLOAD_MB", MAX_UPLOAD_MB)
    request.max_content_length = int(limit_mb * 1024 * 1024) + ENVELOPE_BYTES  # 413 at once if declared
    headers = {"Content-Type": request.headers.get("Content-Type", ""), "Accept": "application/json"}
    if request.content_length is not None:
        headers["Content-Length"] = str(request.content_length)
    stream = request.stream
    with _uploads:
        answer = _backend().stream(
            "POST",
            raw_path(),
            token=sessions.token_from(request),
            headers=headers,
            body=_chunks(stream, _pacer()),
            timeout=UPLOAD_TIMEOUT,
        )
        return _json_answer(answer)


def _chunks(stream, pacer: FilePacer) -> Iterator[bytes]:
    while True:
        data = stream.read(CHUNK)
        if not data:
            return
        _let_others_run(pacer, len(data))
        yield data


def _let_others_run(pacer: FilePacer, piece: int) -> None:
    """Before a file's next ``piece`` bytes, let the chat go first: across processes at the pace
    the pacer sets (:mod:`webserver.file_pacing`), inside this one by waiting for every other
    greenlet that has work (WebSocket fan-out, acks, polls).

    A file moving through loopback rarely has to wait for its sockets, and a greenlet that never
    waits never yields: without a yield, one fast upload would hold the whole process until it
    ends. The yield waits for the event loop to be idle (no socket ready, no timer due), not just
    for one turn: a chat frame is never queued behind a MiB of someone's file, and files move in
    the time the chat leaves over, but at least a piece every :data:`IDLE_WAIT` seconds, so a
    front server kept busy by the chat slows files down without stopping them.
    """
    wait = pacer.delay(piece)
    if wait:
        due = time.monotonic() + wait
        gevent.sleep(wait)
        pacer.late(time.monotonic() - due)
    with gevent.Timeout(IDLE_WAIT, False):
        gevent.idle()


@bp.get("/api/files/<_file>/<path:_name>")
@bp.get("/api/thumbnails/<_file>")
def download(_file: str, _name: str = "") -> ResponseReturnValue:
    """Pass the backend's file answer on as it is read (or its JSON error)."""
    headers = {name: request.headers[name] for name in _FORWARDED_REQUEST if name in request.headers}
    method = "HEAD" if request.method == "HEAD" else "GET"  # HEAD: the headers, no body read
    _downloads.acquire()
    try:
        answer = _backend().stream(
            method, raw_path(), token=sessions.token_from(request), headers=headers, timeout=DOWNLOAD_TIMEOUT
        )
    except BaseException:
        _downloads.release()
        raise
    if answer.status not in (200, 206, 304) or "json" in answer.headers.get("Content-Type", ""):
        try:
            return _json_answer(answer)
        finally:
            _downloads.release()
    body = _Relayed(answer, _pacer())
    if request.method == "HEAD":
        body.close()
    response = Response(body, status=answer.status, direct_passthrough=True)
    del response.headers["Content-Type"]
    for name in _FORWARDED_ANSWER:
        if name in answer.headers:
            response.headers[name] = answer.headers[name]
    response.file_answer = True  # webserver.security keeps its Content-Security-Policy and caching
    return response


class _Relayed:
    """A download's body as it is read from the backend. The WSGI server closes it when the answer
    is over, sent or not (the client went away): the connection and the transfer slot go back
    then, exactly once, even if it was never iterated."""

    def __init__(self, answer, pacer: FilePacer):
        self.answer = answer
        self.pacer = pacer
        self.closed = False
        self.finished = False  # read to its end: the connection can serve another request

    def __iter__(self) -> Iterator[bytes]:
        if self.closed:
            return
        try:
            for piece in self.answer.stream(CHUNK, decode_content=False):
                _let_others_run(self.pacer, len(piece))
                yield piece
            self.finished = True
        except HTTPError as error:  # the backend went away mid-file: the client sees a short body
            log.warning("a download from the backend broke off: %s", error)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if not self.finished and self.answer.length_remaining:
                self.answer.close()  # cut short: this connection still holds the rest; drop it
            self.answer.release_conn()
            _downloads.release()


def _json_answer(answer) -> Response:
    """A small JSON answer of the backend, read whole, as this server's (through the relay's rules)."""
    try:
        data = answer.read()
    except HTTPError as error:
        raise BackendUnavailable(f"The backend's answer broke off ({error.__class__.__name__}).") from None
    finally:
        answer.release_conn()
    try:
        body = orjson.loads(data) if data else None
    except orjson.JSONDecodeError:
        body = None
    kept = {name: answer.headers[name] for name in ("Retry-After", "Allow") if name in answer.headers}
    if answer.status >= 500 and body is None:
        raise ApiError(503, "backend_unavailable", "The chat's backend is not available right now.")
    return reply(BackendResponse(answer.status, body, kept))

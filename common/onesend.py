"""gunicorn's HTTP/1 answer, but with its head sent together with the first piece of its body.

gunicorn writes an answer's head (status line and headers) in one ``send`` and its body in
another. Between the two the request thread gives up the GIL, and in the backend that is the
moment the threads its append just woke (the hubs' long-polls, the search index's follower) take
it: the body, and with it the whole answer, waits behind their work, about 0.1 ms on average and
over 0.4 ms one time in ten (docs/benchmark.md, "Where an acknowledgement's milliseconds go"). The
client too wakes twice, once for the head and once for the body. Here the head is held back while
the first piece of the body is written and both leave in one ``send``.

Only answers of known length are held (every JSON answer of the backend carries its
``Content-Length``); a chunked answer, one without a body (``HEAD``, ``204``, ``304``) and a file
sent with ``sendfile`` get their head on its own as before. A first piece larger than
:data:`JOIN_MAX` is not copied to join it: the head goes first.

The backend's worker (:class:`common.threadworker.HeadFirstWorker`) installs it as the answer
gunicorn builds for every request of its process (:func:`install`).
"""

from __future__ import annotations

from gunicorn import util
from gunicorn.http import wsgi

# Bytes of body up to which the head and the body are joined into one buffer for one send.
JOIN_MAX = 64 * 1024


class OneSendResponse(wsgi.Response):
    """An answer whose head leaves in the same ``send`` as the first piece of its body."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._writing = False  # within write(): a head made now may wait for the body
        self._head = b""  # made and counted as sent, not yet written

    def send_headers(self) -> None:
        """Send the head, or within :meth:`write` of a body of known length, hold it for the body."""
        if self.headers_sent or not (self._writing and self.response_length is not None):
            super().send_headers()
            return
        lines = self.default_headers()
        lines.extend(f"{name}: {value}\r\n" for name, value in self.headers)
        self._head = ("".join(lines) + "\r\n").encode("latin-1")
        self.headers_sent = True

    def write(self, arg: bytes) -> None:
        """Write a piece of the body; the head, if still held, goes out at the latest here."""
        self._writing = True
        try:
            super().write(arg)
        finally:
            self._writing = False
            self._send_head()  # nothing of the body went out (an empty piece, a HEAD): alone

    def _emit_body(self, data: bytes) -> None:
        head, self._head = self._head, b""
        if head and len(data) <= JOIN_MAX:
            util.write(self.sock, head + data)
            return
        if head:
            util.write(self.sock, head)
        super()._emit_body(data)

    def _send_head(self) -> None:
        head, self._head = self._head, b""
        if head:
            util.write(self.sock, head)


def install() -> None:
    """Make :class:`OneSendResponse` the answer gunicorn builds for each HTTP/1 request in this
    process (``gunicorn.http.wsgi.create`` looks its default class up at every call)."""
    wsgi.Response = OneSendResponse

"""An answer's head leaves with the first piece of its body in one send (common/onesend.py).

The answers are gunicorn's, built on requests gunicorn's parser read, and written to a
``SOCK_SEQPACKET`` socket pair: each send arrives as one record, so the records read are exactly
the sends made.
"""

from __future__ import annotations

import socket

from gunicorn import http
from gunicorn.config import Config

from common.onesend import JOIN_MAX, OneSendResponse

Headers = list[tuple[str, str]]


def answer(method: str, status: str, headers: Headers, pieces: list[bytes]) -> list[bytes]:
    """Answer a ``method`` request with ``status``, ``headers`` and the body ``pieces``; the sends made."""
    ours, peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with ours, peer:
        peer.sendall(f"{method} /x HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        request = next(http.get_parser(Config(), ours, ("127.0.0.1", 1)))
        response = OneSendResponse(request, ours, Config())
        response.start_response(status, headers)
        for piece in pieces:
            response.write(piece)
        response.close()
        ours.shutdown(socket.SHUT_WR)
        sends = []
        while record := peer.recv(1 << 20):
            sends.append(record)
        return sends


def test_the_head_and_a_body_of_known_length_leave_in_one_send():
    sends = answer("POST", "201 CREATED", [("Content-Length", "11")], [b'{"ok":true}'])
    assert len(sends) == 1
    head, _, body = sends[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 201 CREATED\r\n")
    assert b"\r\nContent-Length: 11" in head and b"\r\nConnection: keep-alive" in head
    assert body == b'{"ok":true}'


def test_later_pieces_follow_in_sends_of_their_own():
    sends = answer("GET", "200 OK", [("Content-Length", "6")], [b"abc", b"def"])
    assert sends[0].endswith(b"\r\n\r\nabc") and sends[1:] == [b"def"]


def test_an_answer_without_a_body_still_sends_its_head():
    assert answer("HEAD", "200 OK", [("Content-Length", "3")], [b"abc"])[0].startswith(b"HTTP/1.1 200")
    sends = answer("GET", "204 NO CONTENT", [], [])
    assert len(sends) == 1 and sends[0].startswith(b"HTTP/1.1 204 NO CONTENT\r\n")


def test_a_chunked_or_large_answer_sends_its_head_first():
    chunked = answer("GET", "200 OK", [], [b"abc"])
    assert chunked[0].endswith(b"Transfer-Encoding: chunked\r\n\r\n")
    assert chunked[1:] == [b"3\r\nabc\r\n", b"0\r\n\r\n"]
    large = b"x" * (JOIN_MAX + 1)
    sends = answer("GET", "200 OK", [("Content-Length", str(len(large)))], [large])
    assert sends[0].endswith(b"\r\n\r\n") and sends[1:] == [large]

"""Writes to a WebSocket's socket stay whole (webserver/wire.py, ``Wire``): what one send did not
take goes after it, before any other write; a write at once never waits nor cuts into another;
nothing is written after the close frame."""

from __future__ import annotations

import socket
import threading

import pytest
from wsproto import ConnectionType
from wsproto.connection import Connection as Protocol

from webserver.wire import Wire, text_frame


def test_what_one_send_did_not_take_follows_before_the_next_write():
    ours, peer = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    ours.settimeout(5)  # non-blocking underneath: one send takes what fits, as under gevent
    wire = Wire(ours, proto=None)
    first, second = b"a" * 2_000_000, b"b" * 1_000  # the first far over any socket buffer

    def write() -> None:
        wire.send([first])
        wire.send([second])
        ours.close()

    writer = threading.Thread(target=write)
    writer.start()
    received = bytearray()
    with peer:
        while piece := peer.recv(65536):
            received += piece
    writer.join(5)
    assert bytes(received) == first + second


def test_a_write_at_once_takes_what_fits_and_never_waits():
    ours, peer = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    ours.settimeout(5)
    wire = Wire(ours, proto=None)
    assert wire.send_now(b"hello") is None  # all of it went
    big = b"x" * 2_000_000
    rest = wire.send_now(big)
    assert 0 < len(rest) < len(big) and big.endswith(rest)  # what the buffer held went, at once
    assert wire.send_now(b"more") == b"more"  # the buffer is full: nothing, and no wait
    assert peer.recv(5) == b"hello"
    ours.close()
    peer.close()


def test_a_write_at_once_never_cuts_into_another_write():
    ours, peer = socket.socketpair()
    wire = Wire(ours, proto=None)
    with wire._lock:  # another write under way (a sendall waiting for room)
        assert wire.send_now("frame") == text_frame("frame")
    assert wire.send_now("frame") is None
    assert peer.recv(16) == text_frame("frame")
    ours.close()
    peer.close()


def test_nothing_is_written_after_the_close_frame():
    ours, peer = socket.socketpair()
    peer.settimeout(5)
    proto = Protocol(ConnectionType.SERVER)
    wire = Wire(ours, proto)
    wire.close(1000, "bye")
    with pytest.raises(ConnectionError):
        wire.send(["late"])
    assert wire.send_now("late") == text_frame("late")  # not written: left for a writer that fails
    received = b""
    while len(received) < 7:
        received += peer.recv(4096)
    assert received == b"\x88\x05\x03\xe8bye"  # the close frame alone: 1000, "bye"
    wire.release()
    peer.close()


def test_only_a_plain_socket_is_taken_over_from_the_http_server():
    """A TLS socket's state stays with the object that holds it: taking its descriptor alone would
    write plain text into an encrypted stream."""

    class Wrapped(socket.socket):
        pass

    class Handshaken:  # what Wire.take_over asks of simple-websocket's server object
        def __init__(self, sock: socket.socket):
            self.sock, self.connected = sock, True

    ours, peer = socket.socketpair()
    wrapped = Wrapped(fileno=ours.detach())
    with pytest.raises(TypeError, match="only a plain socket"):
        Wire.take_over(Handshaken(wrapped))
    assert wrapped.fileno() >= 0  # left alone, still the server's
    wrapped.close()
    peer.close()

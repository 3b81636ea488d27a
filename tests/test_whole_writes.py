"""Writes to a WebSocket's socket stay whole (webserver/wire.py, ``Wire``): what one send did not
take goes after it, before any other write; a write at once never waits nor cuts into another."""

from __future__ import annotations

import socket
import threading

import pytest

from webserver.wire import Wire


def test_what_one_send_did_not_take_follows_before_the_next_write():
    ours, peer = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    ours.settimeout(5)  # non-blocking underneath: one send takes what fits, as under gevent
    wire = Wire(ours, proto=None)
    first, second = b"a" * 2_000_000, b"b" * 1_000  # the first far over any socket buffer

    def write() -> None:
        wire.write(first)
        wire.write(second)
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
    assert wire.write_now(b"hello") == 5
    big = b"x" * 2_000_000
    taken = wire.write_now(big)
    assert 0 < taken < len(big)  # what the buffer held, at once
    assert wire.write_now(b"more") == 0  # the buffer is full: nothing, and no wait
    assert peer.recv(5) == b"hello"
    ours.close()
    peer.close()


def test_a_write_at_once_never_cuts_into_another_write():
    ours, peer = socket.socketpair()
    wire = Wire(ours, proto=None)
    with wire._lock:  # another write under way (a sendall waiting for room)
        assert wire.write_now(b"frame") == 0
    assert wire.write_now(b"frame") == 5
    assert peer.recv(5) == b"frame"
    ours.close()
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

"""Writes to a WebSocket's socket stay whole (webserver/ws.py, ``_WholeWrites``): what one send
did not take goes after it, before any other write."""

from __future__ import annotations

import socket
import threading

from webserver.ws import _WholeWrites


def test_what_one_send_did_not_take_follows_before_the_next_write():
    ours, peer = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    ours.settimeout(5)  # non-blocking underneath: one send takes what fits, as under gevent
    writes = _WholeWrites(ours)
    first, second = b"a" * 2_000_000, b"b" * 1_000  # the first far over any socket buffer
    returned = []

    def write() -> None:
        returned.append(writes.send(first))
        returned.append(writes.send(second))
        ours.close()

    writer = threading.Thread(target=write)
    writer.start()
    received = bytearray()
    with peer:
        while piece := peer.recv(65536):
            received += piece
    writer.join(5)
    assert returned == [len(first), len(second)]
    assert bytes(received) == first + second


def test_a_write_at_once_takes_what_fits_and_never_waits():
    ours, peer = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    ours.settimeout(5)
    writes = _WholeWrites(ours)
    assert writes.send_now(b"hello") == 5
    big = b"x" * 2_000_000
    taken = writes.send_now(big)
    assert 0 < taken < len(big)  # what the buffer held, at once
    assert writes.send_now(b"more") == 0  # the buffer is full: nothing, and no wait
    assert peer.recv(5) == b"hello"
    ours.close()
    peer.close()


def test_a_write_at_once_never_cuts_into_another_write():
    ours, peer = socket.socketpair()
    writes = _WholeWrites(ours)
    with writes._lock:  # another write under way (a sendall waiting for room)
        assert writes.send_now(b"frame") == 0
    assert writes.send_now(b"frame") == 5
    assert peer.recv(5) == b"frame"
    ours.close()
    peer.close()


def test_a_socket_of_another_kind_is_never_written_at_once():
    """A TLS socket's bytes must go through its encryption: only send writes it."""

    class Wrapped(socket.socket):
        pass

    ours, peer = socket.socketpair()
    wrapped = Wrapped(fileno=ours.detach())
    writes = _WholeWrites(wrapped)
    assert writes.send_now(b"frame") == 0
    assert writes.send(b"frame") == 5
    assert peer.recv(5) == b"frame"
    wrapped.close()
    peer.close()

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

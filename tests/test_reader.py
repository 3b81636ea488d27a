"""One WebSocket's reader (webserver/reader.py) on a socket pair: its pings, and a failure in
reading, which ends the connection rather than leaving it open and forgotten."""

from __future__ import annotations

import socket
import threading

import pytest
from wsproto import ConnectionType
from wsproto.connection import Connection as Protocol

from webserver.connection import CLOSE_TRY_AGAIN, Connection
from webserver.reader import Reader
from webserver.wire import PING, Wire, control_frame


class _Ends:
    """A reader's handler that takes no message and notes the end."""

    def __init__(self):
        self.over = threading.Event()

    def message(self, reader: Reader, data: str | bytes) -> bool:
        raise AssertionError(f"no message expected, got {data!r}")

    def ended(self, reader: Reader) -> None:
        self.over.set()


def _reader_on_a_socketpair(proto=None, handler=None):
    ours, peer = socket.socketpair()
    peer.settimeout(5)
    wire = Wire(ours, proto)
    conn = Connection("alice", "token", abort=wire.shutdown)
    conn.attach(wire.send, lambda code, reason: wire.shutdown(socket.SHUT_RD), lambda fn: fn(), wire.send_now)
    return Reader(wire, conn, handler, max_bytes=1024), peer


def test_a_ping_unanswered_by_the_next_turn_closes_and_a_stuck_close_is_cut_a_turn_later():
    reader, peer = _reader_on_a_socketpair()
    reader.ping()
    assert peer.recv(2) == control_frame(PING)
    reader.unanswered = False  # the pong came
    reader.ping()
    assert peer.recv(2) == control_frame(PING) and not reader.conn.closed
    reader.ping()  # no pong this time
    assert reader.conn.closed and reader.conn.close_code == 1008
    # Still open a turn later (its writer would be waiting on a peer that reads nothing): both
    # directions are shut down, which ends the writer and the reader alike.
    reader.ping()
    with pytest.raises(OSError):
        reader.wire.sock.send(b"x")
    peer.close()
    reader.wire.release()


def test_a_failure_in_reading_closes_with_1013_and_ends_the_connection():
    proto = Protocol(ConnectionType.SERVER)
    proto.receive_data(None)  # the protocol object thinks the connection over: more data raises
    ends = _Ends()
    reader, peer = _reader_on_a_socketpair(proto, ends)
    reader.start()  # a thread here, outside gevent
    peer.sendall(b"x")
    assert ends.over.wait(5), "the reader neither went on nor ended"
    assert reader.conn.closed and reader.conn.close_code == CLOSE_TRY_AGAIN
    peer.close()
    reader.wire.release()

"""One WebSocket's reader (webserver/reader.py) on a socket pair or a TCP connection: its pings,
the closing handshake when this side closes, and a failure in reading, which ends the connection
rather than leaving it open and forgotten."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from wsproto import ConnectionType
from wsproto.connection import Connection as Protocol
from wsproto.events import CloseConnection, TextMessage

from webserver import wire as wire_module
from webserver.connection import CLOSE_POLICY, CLOSE_TRY_AGAIN, Connection
from webserver.reader import Reader
from webserver.wire import PING, Wire, control_frame


class _Ends:
    """A reader's handler that notes the end; ``on_message`` acts on each message (by default,
    none is expected)."""

    def __init__(self, on_message=None):
        self.over = threading.Event()
        self.on_message = on_message

    def message(self, reader: Reader, data: str | bytes) -> None:
        if self.on_message is None:
            raise AssertionError(f"no message expected, got {data!r}")
        self.on_message(reader, data)

    def ended(self, reader: Reader) -> None:
        self.over.set()


def _in_a_thread(writer) -> None:
    threading.Thread(target=writer, daemon=True).start()


def _reader_on(ours: socket.socket, proto=None, handler=None) -> Reader:
    wire = Wire(ours, proto)
    conn = Connection("alice", "token", abort=wire.shutdown)
    reader = Reader(wire, conn, handler, max_bytes=1024)
    conn.attach(wire.send, wire.close, _in_a_thread, wire.send_now)
    return reader


def _reader_on_a_socketpair(proto=None, handler=None):
    ours, peer = socket.socketpair()
    peer.settimeout(5)
    return _reader_on(ours, proto, handler), peer


def _tcp_pair() -> tuple[socket.socket, socket.socket]:
    """Both ends of a TCP connection on the loopback: unlike a socket pair's, a TCP socket closed
    with bytes unread resets its peer."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        peer = socket.create_connection(listener.getsockname(), timeout=5)
        ours, _ = listener.accept()
    return ours, peer


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


def test_a_client_still_sending_when_this_side_closes_reads_the_close_and_is_not_reset():
    """The server closes (as for a flood of frames) while the client keeps sending: the reader
    reads on, dropping what comes, until the client answers; only then is the socket closed. A
    socket closed with the client's frames unread would reset the connection, and the client
    would lose the close frame (1006 instead of the code)."""
    ours, peer = _tcp_pair()
    client = Protocol(ConnectionType.CLIENT)
    ends = _Ends(on_message=lambda reader, data: reader.conn.close(CLOSE_POLICY, "too many frames"))
    reader = _reader_on(ours, Protocol(ConnectionType.SERVER), ends)
    reader.start()
    for _ in range(200):  # the first frame has the server close; the rest go on regardless
        peer.sendall(client.send(TextMessage("typing")))
        time.sleep(0.001)
    received = []
    while not received or not isinstance(received[-1], CloseConnection):
        client.receive_data(peer.recv(4096))  # a reset would raise here
        received += client.events()
    assert (received[-1].code, received[-1].reason) == (CLOSE_POLICY, "too many frames")
    assert not ends.over.is_set(), "the connection ended before the client answered the close"
    peer.sendall(client.send(CloseConnection(CLOSE_POLICY)))
    assert ends.over.wait(5), "the client's answer did not end the connection"
    reader.wire.release()
    assert peer.recv(4096) == b""  # a FIN: closed, not reset
    peer.close()


def test_a_client_that_never_answers_the_close_is_cut_after_the_close_timeout(monkeypatch):
    monkeypatch.setattr(wire_module, "CLOSE_TIMEOUT", 0.2)
    ends = _Ends()
    reader, peer = _reader_on_a_socketpair(Protocol(ConnectionType.SERVER), ends)
    reader.start()
    started = time.monotonic()
    reader.conn.close(1000, "signed out")
    assert peer.recv(64) == b"\x88\x0c\x03\xe8signed out"
    assert ends.over.wait(5), "the silent client held the connection"
    assert time.monotonic() - started >= 0.2
    reader.wire.release()
    peer.close()


def test_the_answer_to_a_clients_close_waits_for_nothing(monkeypatch):
    """Only this side's own close waits for an answer; answering the client's close arms no cut
    (the connection ends at once anyway, and its socket is closed there)."""
    monkeypatch.setattr(wire_module, "CLOSE_TIMEOUT", 0.05)
    ours, peer = socket.socketpair()
    proto = Protocol(ConnectionType.SERVER)
    proto.receive_data(Protocol(ConnectionType.CLIENT).send(CloseConnection(1000, "bye")))
    assert [type(event) for event in proto.events()] == [CloseConnection]
    wire = Wire(ours, proto)
    wire.close(1000, "bye")
    time.sleep(0.2)
    ours.sendall(b"still open")  # a cut would have shut the socket down
    wire.release()
    peer.close()


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

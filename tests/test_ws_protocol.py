"""The WebSocket protocol as the front server's reader speaks it (``webserver/reader.py``).

The real front server and backend, driven with the ``websockets`` client: the client's pings are
answered, a message sent in fragments is one message, also for the 64 KiB limit, and the client's
close is answered with its code.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct

import pytest
from websockets.exceptions import ConnectionClosed

from tests.live_http import make_room, post
from tests.ws_client import WAIT, Client

pytestmark = pytest.mark.live

MAX_FRAME = 65_536


def test_the_clients_ping_gets_its_pong(live_module, http_user, stack) -> None:
    a = Client(stack, http_user("alice"))
    assert a.ws.ping(b"are you there").wait(WAIT), "no pong"
    a.send({"type": "typing", "room": "nowhere"})  # and the connection goes on
    assert a.expect("error")["error"]["code"] == "not_found"


def test_a_message_in_fragments_is_one_message(live_module, http_user, stack) -> None:
    alice = http_user("alice")
    room = make_room(alice, [])
    a = Client(stack, alice)
    text = json.dumps({"type": "send", "room": room, "text": "in \u00e9 pieces", "client_id": "frag-1"})
    a.ws.send([text[:5], text[5:20], text[20:]])
    ack, _ = a.ack_and_echo()
    assert ack["client_id"] == "frag-1" and ack["message"]["text"] == "in \u00e9 pieces"


def test_fragments_over_64_kib_in_all_close_with_1009(live_module, http_user, stack) -> None:
    """The limit is on the message: small fragments that add up to more than 64 KiB close it."""
    a = Client(stack, http_user("alice"))
    piece = "x" * 4096
    with pytest.raises(ConnectionClosed) as closed:
        a.ws.send([piece] * (MAX_FRAME // len(piece) + 1))
        a.until(lambda frame: False)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_the_clients_close_is_answered_with_its_code(live_module, http_user, stack) -> None:
    a = Client(stack, http_user("alice"))
    a.ws.close(4000, "leaving")
    received = a.ws.protocol.close_rcvd
    assert received is not None and received.code == 4000


def test_a_reader_that_falls_behind_gets_every_frame_whole_and_in_order(live_module, http_user) -> None:
    """Broadcasts to a client that reads only later, far more than its window: every frame
    arrives whole, in pos order."""
    alice, bob = http_user("alice"), http_user("bob")
    room = make_room(bob, [alice])
    port = int(live_module.url.rsplit(":", 1)[1])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: a small window
    sock.settimeout(WAIT)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Cookie: chat_session={alice.cookies['chat_session']}\r\n\r\n"
        ).encode()
    )
    stream = sock.makefile("rb")
    while stream.readline() not in (b"\r\n", b""):
        pass  # the 101's headers
    sent = [post(bob, room, f"{n:03} " + "y" * 3000) for n in range(40)]  # far more than 4 KiB

    frames = []
    with stream, sock:
        while sum(frame["type"] == "message" for frame in frames) < len(sent):
            head = stream.read(2)
            assert head[0] == 0x81 and head[1] < 0x80, head  # one whole, unmasked text frame
            size = head[1]
            if size == 126:
                size = struct.unpack("!H", stream.read(2))[0]
            elif size == 127:
                size = struct.unpack("!Q", stream.read(8))[0]
            frames.append(json.loads(stream.read(size)))
    assert frames[0]["type"] == "hello"
    got = [frame for frame in frames if frame["type"] == "message"]
    assert [frame["message"]["text"] for frame in got] == [message["text"] for message in sent]
    assert [frame["pos"] for frame in got] == sorted(frame["pos"] for frame in got)

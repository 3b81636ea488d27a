"""The WebSocket protocol as the front server's reader speaks it (``webserver/reader.py``).

The real front server and backend, driven with the ``websockets`` client: the client's pings are
answered, a message sent in fragments is one message, also for the 64 KiB limit, and the client's
close is answered with its code.
"""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import ConnectionClosed

from tests.live_http import make_room
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

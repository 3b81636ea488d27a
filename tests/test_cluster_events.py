"""Events ahead of the log between front servers, through a real Redis (webserver/cluster.py).

Hubs in this process, each joined to the same ``redis-server`` by its :class:`Cluster` with the
background loops running: the events one hub was handed by the backend reach the others, which
broadcast each one that is their next; nothing forged, out of order or repeated gets through.
"""

from __future__ import annotations

import pytest

from tests.hub_helpers import positions
from tests.timing import wait_for
from webserver.cluster import EVENTS, Cluster
from webserver.connection import Connection
from webserver.hub import Hub

R1 = ["alice", "bob"]
SECRET = "a shared secret of the front servers"


def message(pos: int) -> dict:
    return {
        "type": "message",
        "pos": pos,
        "message": {"room": "r1", "pos": pos, "sender": "alice", "text": "hi"},
    }


@pytest.fixture
def front(redis_server):
    """Factory: a hub at pos 10 with bob connected, joined through Redis with ``secret``."""
    links: list[Cluster] = []

    def make(secret: str | None = SECRET) -> tuple[Hub, Connection]:
        hub = Hub(shared=True)
        hub.load([{"id": "r1", "visibility": "private", "members": R1}], pos=10)
        link = Cluster(hub, redis_server.url, secret)
        link.start()
        links.append(link)
        bob = Connection("bob", "t-bob")
        hub.register(bob, {"username": "bob"}, None)
        return hub, bob

    yield make
    for link in links:
        link.close()


def subscribed(redis_server, count: int) -> bool:
    with redis_server.client() as client:
        return client.pubsub_numsub(EVENTS)[0][1] == count


def test_events_handed_to_one_front_server_reach_the_others_in_order(redis_server, front):
    a, bob_on_a = front()
    b, bob_on_b = front()
    assert wait_for(lambda: subscribed(redis_server, 2), 5)
    a.apply_ahead([(message(11), R1), (message(12), R1)])
    assert wait_for(lambda: b.pos == 12, 5), "the events did not reach the other front server"
    assert positions(bob_on_a) == positions(bob_on_b) == [11, 12]
    # Not b's next (13 is missing): left for the log, which brings 13 and 14 in order.
    a.apply(message(13), R1)
    a.apply_ahead([(message(14), R1)])
    assert wait_for(lambda: a.pos == 14, 5)
    assert not wait_for(lambda: b.pos != 12, 1)
    for pos in (13, 14):
        b.apply(message(pos), R1)
    assert positions(bob_on_b) == [13, 14]


def test_an_event_without_the_secret_is_not_broadcast(redis_server, front):
    b, bob = front()
    stranger, _ = front(secret="another secret")
    assert wait_for(lambda: subscribed(redis_server, 2), 5)
    stranger.apply_ahead([(message(11), R1)])  # signed with a secret b does not hold
    with redis_server.client() as client:  # and one anybody who can reach Redis could write
        client.publish(EVENTS, b'someone - [{"event": {"type": "message", "pos": 11}, "users": ["bob"]}]')
        client.publish(EVENTS, b"someone 00 not json")
    assert not wait_for(lambda: b.pos != 10, 1)
    assert positions(bob) == []

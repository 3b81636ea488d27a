"""The presence sync of several front servers against a real Redis, one step at a time.

Two hubs in this process, each with its :class:`~webserver.cluster.Cluster`, and ``sync()`` called
by hand instead of by the background loop, so every step can be looked at in Redis.
"""

from __future__ import annotations

import pytest

from webserver.cluster import PRESENCE_TTL, Cluster
from webserver.hub import Hub


@pytest.fixture
def joined():
    """Factory: a hub joined to the others through the Redis at ``url``; closed at teardown."""
    links: list[Cluster] = []

    def make(url: str) -> tuple[Hub, Cluster]:
        hub = Hub(shared=True)
        links.append(Cluster(hub, url))
        return hub, links[-1]

    yield make
    for link in links:
        link.close()


def test_each_front_server_writes_its_users_and_reads_the_others(redis_server, joined):
    a, link_a = joined(redis_server.url)
    b, link_b = joined(redis_server.url)
    a.touch_poller("alice")
    b.touch_poller("bob")
    link_a.sync()
    link_b.sync()
    link_a.sync()
    assert a.online_users() == b.online_users() == {"alice", "bob"}
    with redis_server.client() as store:
        assert store.smembers(f"chat:online:{link_a.id}") == {b"alice"}
        assert 0 < store.pttl(f"chat:online:{link_a.id}") <= PRESENCE_TTL * 1000
        assert set(store.zrange("chat:fronts", 0, -1)) == {link_a.id.encode(), link_b.id.encode()}
    # What Redis holds is what this server holds: nothing to write again.
    assert a.presence_changes() == (None, {}, 1)


def test_a_front_server_whose_set_expired_takes_its_users_offline_elsewhere(redis_server, joined):
    a, link_a = joined(redis_server.url)
    b, link_b = joined(redis_server.url)
    b.touch_poller("bob")
    link_b.sync()
    link_a.sync()
    assert "bob" in a.online_users()
    with redis_server.client() as store:
        store.delete(f"chat:online:{link_b.id}")  # as when b died and its set expired
    link_a.sync()
    assert a.online_users() == set()


def test_a_redis_that_lost_its_data_gets_each_set_written_again(redis_server, joined):
    a, link_a = joined(redis_server.url)
    a.touch_poller("alice")
    link_a.sync()
    with redis_server.client() as store:
        store.flushall()  # a restart without persistence
        link_a.sync()  # notices the set is gone
        link_a.sync()  # writes it whole
        assert store.smembers(f"chat:online:{link_a.id}") == {b"alice"}

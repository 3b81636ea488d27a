"""Several front servers on one Redis: typing notices over pub/sub, presence as shared sets with expiry.

Only what is not in the backend's log travels here. Messages and room events never do: every
front server follows ``/internal/events`` itself from its own ``pos`` (:mod:`webserver.stream`),
so Redis going away, restarting or dropping a pub/sub message (it drops them silently for a
subscriber that is away) can neither lose nor double one.

What this module keeps in Redis (``PREFIX`` is ``chat:``):

* ``chat:online:ID``: a set, the users front server ``ID`` holds online (its own WebSockets and
  polls, with the offline grace), expiring :data:`PRESENCE_TTL` seconds after the server last
  refreshed it, so the users of a front server that dies go offline within that bound.
* ``chat:fronts``: a sorted set of the front servers' ids, scored by when each last wrote, to know
  whose sets to read; ids silent for :data:`FORGET_AFTER` seconds are dropped.
* channel ``chat:signals``: ``{"from": ID, "kind": "typing", "room", "user"}`` for a typing
  notice, and ``{"from": ID, "kind": "presence"}`` to say "read the sets again now".

Three greenlets do the I/O, so that no request ever waits on Redis: the presence sync (write this
server's changes, read the others', every :data:`SYNC_EVERY` seconds or sooner when nudged), the
subscriber, and the publisher of typing notices (a bounded queue: while Redis is away, notices
are dropped, which costs nothing that matters). Each one retries a lost Redis with a growing pause
and logs the outage once; when it returns, this server writes its whole online set again.

``redis`` is imported only here, and this module only with ``--redis``.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid

import orjson
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from webserver.hub import Hub
from webserver.loops import Loops

log = logging.getLogger(__name__)

PREFIX = "chat:"
FRONTS = PREFIX + "fronts"
CHANNEL = PREFIX + "signals"

# Seconds between two presence syncs when nothing nudges one: the longest a change on another
# front server takes to show here while its pub/sub nudge is lost.
SYNC_EVERY = 1.0

# Seconds at least between two syncs, however often nudged: under a burst of sign-ins the sync
# runs at most ten times a second instead of once per connection.
SYNC_SPACING = 0.1

# Seconds a front server's online set outlives its last refresh: ten missed syncs. The bound on
# how long the users of a front server that died (or lost Redis) still show online elsewhere.
PRESENCE_TTL = 10.0

# Seconds after which a silent front server's id is dropped from chat:fronts (its set is long gone).
FORGET_AFTER = 3600.0

# Seconds for one Redis call: Redis answers in well under a millisecond, so a call this slow means
# it is away; the caller's greenlet waits, never a request.
CONNECT_TIMEOUT = 1.0
CALL_TIMEOUT = 2.0

# Seconds a connection may sit idle before redis-py checks it with a PING on its next use. The
# subscriber's connection only ever reads, so this is what notices a Redis that vanished without
# closing it (a machine gone, a hung process).
HEALTH_CHECK_EVERY = 10

# Seconds between attempts while Redis is away: quick at first, then every two seconds.
BACKOFF_FIRST = 0.2
BACKOFF_MAX = 2.0

# Typing notices waiting to be published; past this (Redis slow or away) new ones are dropped.
TYPING_QUEUE = 1000

# Seconds after which a typing notice that could not be published yet is dropped: the app shows
# "is typing" for a few seconds, so an older notice would only mislead.
TYPING_STALE = 3.0


class Cluster:
    """This front server's link to the others through the Redis at ``url`` (see the module docstring)."""

    def __init__(self, hub: Hub, url: str):
        self.hub = hub
        self.id = uuid.uuid4().hex
        self._key = f"{PREFIX}online:{self.id}"
        # No retries inside redis-py: each loop here has its own, with a pause, and knows what to
        # redo (resubscribe, rewrite the online set) when Redis comes back.
        self._redis = redis.Redis.from_url(
            url,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=CALL_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=HEALTH_CHECK_EVERY,
        )
        self._typing: queue.Queue[tuple[float, bytes]] = queue.Queue(TYPING_QUEUE)
        self._nudge = threading.Event()
        self._loops = Loops(
            (self._sync_loop, "chat-presence-sync"),
            (self._listen_loop, "chat-signals-in"),
            (self._publish_loop, "chat-signals-out"),
        )
        hub.typing_out = self.typing

    def start(self) -> None:
        """Start the three loops once, in the process that serves."""
        self._loops.start()

    def close(self) -> None:
        """Close the pooled connections to Redis (a serving process keeps them for its life; a
        test that drives :meth:`sync` by hand closes them)."""
        self._redis.close()

    def typing(self, room_id: str, user: str) -> None:
        """Queue a typing notice for the other front servers; dropped when the queue is full."""
        message = orjson.dumps({"from": self.id, "kind": "typing", "room": room_id, "user": user})
        try:
            self._typing.put_nowait((time.monotonic(), message))
        except queue.Full:
            pass

    # -- presence ----------------------------------------------------------------------------

    def _sync_loop(self) -> None:
        self._retrying("presence sync", self._sync_forever)

    def _sync_forever(self) -> None:
        while True:
            self._nudge.wait(SYNC_EVERY)
            self._nudge.clear()
            self.sync()
            time.sleep(SYNC_SPACING)

    def sync(self) -> None:
        """Write this server's presence changes, refresh its expiry, read the other servers' users."""
        whole, changes, size = self.hub.presence_changes()
        now = time.time()
        try:
            pipe = self._redis.pipeline(transaction=False)
            if whole is not None:
                pipe.delete(self._key)
                if whole:
                    pipe.sadd(self._key, *whole)
            came = [user for user, online in changes.items() if online]
            went = [user for user, online in changes.items() if not online]
            if came:
                pipe.sadd(self._key, *came)
            if went:
                pipe.srem(self._key, *went)
            pipe.pexpire(self._key, int(PRESENCE_TTL * 1000))
            size_at = len(pipe)
            pipe.scard(self._key)
            if whole is not None or changes:
                pipe.publish(CHANNEL, orjson.dumps({"from": self.id, "kind": "presence"}))
            pipe.zadd(FRONTS, {self.id: now})
            pipe.zremrangebyscore(FRONTS, "-inf", now - FORGET_AFTER)
            pipe.zrange(FRONTS, 0, -1)
            results = pipe.execute()
            fronts = [front.decode() for front in results[-1]]
            others = [f"{PREFIX}online:{front}" for front in fronts if front != self.id]
            remote = {user.decode() for user in self._redis.sunion(others)} if others else set()
        except Exception:
            self.hub.presence_lost()
            raise
        if results[size_at] != size:
            # Redis lost this server's set (it restarted without its data, or the set expired
            # while this server could not reach it): write it whole at the next sync, at once.
            self.hub.presence_lost()
            self._nudge.set()
        self.hub.remote_presence(remote)

    # -- signals in and out ----------------------------------------------------------------------

    def _listen_loop(self) -> None:
        self._retrying("signals subscriber", self._listen_forever)

    def _listen_forever(self) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(CHANNEL)
            # Subscribed again after an outage: what changed meanwhile is in the sets, read now.
            self._nudge.set()
            while True:
                message = pubsub.get_message(timeout=1.0)
                if message is not None and message.get("type") == "message":
                    self._on_signal(message["data"])
        finally:
            pubsub.close()

    def _on_signal(self, data: bytes) -> None:
        try:
            signal = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(signal, dict) or signal.get("from") == self.id:
            return
        if signal.get("kind") == "presence":
            self._nudge.set()
        elif signal.get("kind") == "typing":
            room, user = signal.get("room"), signal.get("user")
            if isinstance(room, str) and isinstance(user, str):
                self.hub.remote_typing(room, user)

    def _publish_loop(self) -> None:
        self._retrying("signals publisher", self._publish_forever)

    def _publish_forever(self) -> None:
        while True:
            queued, message = self._typing.get()
            if time.monotonic() - queued < TYPING_STALE:
                self._redis.publish(CHANNEL, message)

    # -- Redis away -------------------------------------------------------------------------------

    def _retrying(self, what: str, run) -> None:
        """Run ``run`` forever: after a Redis error, pause (growing) and run it again; log an outage once."""
        pause = BACKOFF_FIRST
        down_since = None
        while True:
            try:
                if down_since is not None:
                    # A ping first, so that the return is logged once, as soon as Redis answers.
                    self._redis.ping()
                    log.warning("%s: Redis is back after %.0f s", what, time.monotonic() - down_since)
                    down_since = None
                    pause = BACKOFF_FIRST
                run()
            except redis.RedisError as error:
                if down_since is None:
                    down_since = time.monotonic()
                    log.warning("%s: Redis unavailable (%s); live delivery goes on, retrying", what, error)
            except Exception:
                log.exception("%s failed; retrying", what)
            time.sleep(pause)
            pause = min(pause * 2, BACKOFF_MAX)

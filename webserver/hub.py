"""The WebSocket hub: who is connected where, room membership, and fan-out; no Flask import.

Events reach the hub from :mod:`webserver.stream`, in strictly increasing ``pos`` order, and ahead
of it from the answers to the changes this front server relays (:meth:`Hub.apply_ahead`), each
with the users it concerns as the backend decided them (:mod:`common.feed`);
:meth:`Hub.apply` drops anything at or below the last applied ``pos`` and delivers the rest to
exactly those users, whatever the event's type: the hub has no rule of its own about who gets
what. Its room map (who may send typing notices where) starts from the backend's
``/internal/rooms`` snapshot and follows every event that carries a room object.

Each broadcast frame is encoded once and the same ``str`` is queued on every recipient's
:class:`~webserver.connection.Connection`, whose one writer sends it.

With several front servers (``--redis``), :mod:`webserver.cluster` joins this hub to the others:
its presence is a :class:`~webserver.shared_presence.SharedPresence`, and a typing notice is also
handed to ``typing_out`` for the other servers, whose notices come back through
:meth:`Hub.remote_typing`. Events never travel that way: every front server follows the log itself.

Threading: the front server runs on gevent, where ``threading`` is monkey-patched into greenlets;
the locks here are therefore cheap and only guard against switches at I/O points.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from common.feed import EVERYONE, SESSION_ENDED, token_digest
from webserver.connection import CLOSE_NORMAL, CLOSE_POLICY, Connection
from webserver.polling import Waiter, Waiters
from webserver.presence import Presence, RateGate
from webserver.shared_presence import SharedPresence

# Seconds a hub remembers a session that a session_ended event ended: a handshake that checked
# the session just before the event (or against a cached answer) and registers after it is
# closed too. Longer than the session cache's few seconds plus a slow handshake.
ENDED_MEMORY = 60.0

# Events handed over ahead of an earlier one still on its way that a hub holds at most (a few
# concurrent changes relayed by this front server; anything beyond comes through the event stream).
HELD_AT_MOST = 64


def encode(frame: dict[str, Any]) -> str:
    """A frame as JSON text, the one encoding shared by every recipient."""
    return orjson.dumps(frame).decode()


def status_frame(backend_ok: bool) -> str:
    """The ``status`` frame: whether the backend can be reached (ours, beyond the contract)."""
    return encode({"type": "status", "backend": "ok" if backend_ok else "unavailable"})


class Hub:
    """The in-process state of every WebSocket, fed with the backend's event log."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        session_ended: Callable[[str], object] = lambda digest: None,
        shared: bool = False,
    ):
        """``clock`` times presence; ``wall`` (epoch seconds) session ends; ``session_ended(digest)``
        is called for every session a ``session_ended`` event ends (the session cache forgets it);
        ``shared``: presence joined with other front servers' (set by :mod:`webserver.cluster`)."""
        self._lock = threading.RLock()
        self._wall = wall
        self._session_ended = session_ended
        self._expires: dict[Connection, float] = {}  # connection -> its session's end (epoch s)
        self._next_expiry = math.inf
        self._ended: dict[str, float] = {}  # token digest -> when a session_ended event ended it
        self.pos = 0
        self._held: dict[int, tuple[dict[str, Any], Iterable[str] | str]] = {}  # handed over early
        self.ready = threading.Event()  # set once the rooms snapshot is loaded
        self._rooms: dict[str, tuple[bool, set[str]]] = {}  # id -> (public, members)
        self._conns: dict[str, set[Connection]] = {}  # username -> open connections
        self._waiters = Waiters()  # caught-up long-polls of /api/events (webserver.polling)
        self.presence: Presence | SharedPresence = (
            SharedPresence(Presence(clock)) if shared else Presence(clock)
        )
        self.typing_gate = RateGate(clock=clock)
        # Called with (room id, username) after a typing notice went to this server's connections.
        self.typing_out: Callable[[str, str], None] | None = None
        self.backend_ok = True  # as the event stream last found the backend

    # -- the event log ----------------------------------------------------------------------

    def load(self, rooms: Iterable[dict[str, Any]], pos: int) -> None:
        """Start from the backend's rooms snapshot as of ``pos``."""
        with self._lock:
            self._rooms = {
                r["id"]: (r.get("visibility") == "public", set(r.get("members") or ())) for r in rooms
            }
            self.pos = pos
            self._held = {}
            self.ready.set()

    def apply(self, event: dict[str, Any], users: Iterable[str] | str, *, burst: bool = False) -> int:
        """Apply one event of the log and deliver it to ``users``; returns how many got it.

        ``users`` are the usernames the backend says the event concerns, or
        :data:`~common.feed.EVERYONE`: every user with an open connection or a parked poll.
        ``burst``: more events follow in this same turn; each connection's writer then sends them
        together in one write, where a lone event is written to each socket at once.
        """
        pos = event.get("pos")
        if not isinstance(pos, int):
            return 0
        with self._lock:
            if pos <= self.pos:
                return 0
            room = event.get("room")
            if isinstance(room, dict) and isinstance(room.get("id"), str):
                self._rooms[room["id"]] = (room.get("visibility") == "public", set(room.get("members") or ()))
            if users == EVERYONE:
                users = self._conns.keys() | self._waiters.users()
            if event.get("type") == SESSION_ENDED:
                self._end_session(event)
            self.pos = pos
            frame = encode(event)
            count = 0
            for user in users:
                for conn in self._conns.get(user, ()):
                    conn.deliver(pos, frame, at_once=not burst)
                    count += 1
                count += self._waiters.hand(user, pos, frame)
            if self._held:
                count += self._apply_held()
            return count

    def apply_ahead(self, items: list[tuple[dict[str, Any], Iterable[str] | str]]) -> int:
        """Apply events handed over ahead of the log (the backend's answer to the call that
        appended them), in ``pos`` order: the next one at once; one further ahead is held (at most
        HELD_AT_MOST) until those before it come, by either way. The backend's long-poll sleeps
        through what this front server is handed (backend/handoffs.py): an answer that overtook an
        earlier one must not leave its events to that long-poll. Returns how many deliveries were
        made."""
        count = 0
        if not items:  # every relayed answer passes here; most hand over nothing
            return count
        with self._lock:
            if not self.ready.is_set():
                return count
            burst = len(items) > 1
            for event, users in items:
                pos = event.get("pos")
                if pos == self.pos + 1:
                    count += self.apply(event, users, burst=burst)
                elif isinstance(pos, int) and pos > self.pos and len(self._held) < HELD_AT_MOST:
                    self._held[pos] = (event, users)
        return count

    def _apply_held(self) -> int:
        """Apply the held event that is now the next one (lock held); drop those now behind."""
        self._held = {pos: item for pos, item in self._held.items() if pos > self.pos}
        item = self._held.pop(self.pos + 1, None)
        return 0 if item is None else self.apply(*item)

    def room(self, room_id: str) -> tuple[bool, set[str]] | None:
        """``(public, members)`` of a room as of the hub's pos, or None when unknown."""
        with self._lock:
            found = self._rooms.get(room_id)
            return (found[0], set(found[1])) if found else None

    # -- caught-up long-polls ------------------------------------------------------------------

    def park(self, user: str, after: int) -> Waiter | None:
        """Park a long-poll of ``user`` for the events after ``after``, at or past the hub's pos.

        A cursor past the hub's pos is one the backend has reached and the hub not yet: the poll
        gets the events after it. None when the hub is not ready or is past ``after``: the poll
        must catch up first. The check and the parking are one step under the lock, so no event can
        slip between them.
        """
        with self._lock:
            if not self.ready.is_set() or after < self.pos:
                return None
            waiter = Waiter(user, after)
            self._waiters.add(waiter)
            return waiter

    def unpark(self, waiter: Waiter) -> tuple[list[str], int, list[str]]:
        """End a parked poll: the frames it was handed, the cursor that follows them, its signals.

        Taken in one step under the lock: every event up to the returned pos that concerns the
        user is in the frames, and every later one is left for the next poll. The signals are the
        typing notices handed to it meanwhile (ephemeral: none is kept for the next poll).
        """
        with self._lock:
            self._waiters.remove(waiter)
            pos = waiter.closed_at if waiter.closed_at is not None else max(self.pos, waiter.after)
            return list(waiter.frames), pos, list(waiter.signals)

    # -- connections -------------------------------------------------------------------------

    def register(
        self, conn: Connection, user: dict[str, Any], after: int | None = None, *, expires: float = math.inf
    ) -> int:
        """Add a connection and queue its hello; returns the hello's pos.

        Without ``after`` the connection carries the events after the hub's pos. With it, the
        hello says ``after`` and live events are held until :meth:`finish_catch_up`. ``expires``
        (epoch seconds) is when its session ends: :meth:`sweep` closes it then.
        """
        with self._lock:
            if self._ended and token_digest(conn.token) in self._ended:
                conn.close(CLOSE_NORMAL, "signed out")  # ended while its handshake was under way
            if expires != math.inf:
                self._expires[conn] = expires
                self._next_expiry = min(self._next_expiry, expires)
            pos = self.pos if after is None else after
            conn.last_pos = pos
            conn.catching_up = after is not None
            conn.push(encode({"type": "hello", "user": user, "pos": pos}))
            if not self.backend_ok:
                conn.push(status_frame(False))
            self._conns.setdefault(conn.user, set()).add(conn)
            self._announce(self.presence.connected(conn.user))
            return pos

    def finish_catch_up(self, conn: Connection, cursor: int) -> None:
        """End a replay that covered the log up to ``cursor``: release held events after it."""
        with self._lock:
            conn.last_pos = max(conn.last_pos, cursor)
            held, conn.held, conn.catching_up = conn.held, [], False
            for pos, frame in held:
                conn.deliver(pos, frame, at_once=False)

    def unregister(self, conn: Connection) -> None:
        """Forget a closed connection."""
        with self._lock:
            conns = self._conns.get(conn.user)
            if conns is None or conn not in conns:
                return
            conns.discard(conn)
            self._expires.pop(conn, None)
            if not conns:
                del self._conns[conn.user]
            self._announce(self.presence.disconnected(conn.user))

    def connections(self, user: str | None = None) -> list[Connection]:
        """The open connections, of one user or of everyone."""
        with self._lock:
            if user is not None:
                return list(self._conns.get(user, ()))
            return [c for conns in self._conns.values() for c in conns]

    def close_session(self, token: str) -> int:
        """Close every connection of a signed-out session; returns how many."""
        closing = [c for c in self.connections() if c.token == token]
        for conn in closing:
            conn.close(CLOSE_NORMAL, "signed out")
        return len(closing)

    def _end_session(self, event: dict[str, Any]) -> None:
        """A ``session_ended`` event (:mod:`common.feed`): close that session's connections here."""
        digest = event.get("session")
        if not isinstance(digest, str):
            return
        self._session_ended(digest)
        self._ended[digest] = self._wall()
        for conn in list(self._conns.get(event.get("user"), ())):
            if token_digest(conn.token) == digest:
                conn.close(CLOSE_NORMAL, "signed out")

    def _close_expired(self) -> None:
        """Close the connections whose session has ended (cheap until the next end comes), and
        forget the sessions events ended more than :data:`ENDED_MEMORY` seconds ago."""
        now = self._wall()
        for digest in [d for d, when in self._ended.items() if when < now - ENDED_MEMORY]:
            del self._ended[digest]
        if now < self._next_expiry:
            return
        for conn, expires in list(self._expires.items()):
            if expires <= now:
                del self._expires[conn]
                conn.close(CLOSE_POLICY, "session expired")
        self._next_expiry = min(self._expires.values(), default=math.inf)

    def set_backend(self, ok: bool) -> None:
        """The backend was found reachable (``ok``) or not: on a change, tell every client.

        Each connection gets a ``status`` frame, so a page can say why its messages wait. When
        the backend goes away every parked poll also answers now, its answer saying so; when it
        returns they wait on as the contract says (for an event, or the timeout), and their next
        answer says nothing more, which means the backend answers.
        """
        with self._lock:
            if ok == self.backend_ok:
                return
            self.backend_ok = ok
            frame = status_frame(ok)
            for conns in self._conns.values():
                for conn in conns:
                    conn.push(frame)
            if not ok:
                self._waiters.wake_all()

    # -- ephemeral signals ---------------------------------------------------------------------

    def typing(self, user: str, room_id: str) -> str | None:
        """Relay ``user``'s typing signal to the room's other members; returns an error code or None.

        The one way a typing notice goes out, whether it came as a WebSocket frame or as
        ``POST /api/rooms/{id}/typing``: the other members' connections get the frame, and their
        parked long-polls get it as a signal (:mod:`webserver.polling`). Over the rate limit the
        signal is dropped silently (None): it carries nothing to lose.
        """
        with self._lock:
            room = self._rooms.get(room_id)
            if room is None or (user not in room[1] and not room[0]):
                return "not_found"
            if user not in room[1]:
                return "not_a_member"
            if not self.typing_gate.allow(user):
                return None
            self._fan_typing(room_id, user, room[1])
        if self.typing_out is not None:
            self.typing_out(room_id, user)
        return None

    def remote_typing(self, room_id: str, user: str) -> None:
        """A typing notice from another front server: to this server's connections of the room's
        other members, if ``user`` is a member as far as this hub knows."""
        with self._lock:
            room = self._rooms.get(room_id)
            if room is not None and user in room[1]:
                self._fan_typing(room_id, user, room[1])

    def _fan_typing(self, room_id: str, sender: str, members: set[str]) -> None:
        """The typing frame to this server's connections and parked long-polls of the others."""
        frame = encode({"type": "typing", "room": room_id, "user": sender})
        for user in members:
            if user != sender:
                for other in self._conns.get(user, ()):
                    other.push(frame)
                self._waiters.signal(user, frame)

    def online_users(self) -> set[str]:
        """The users shown as online."""
        with self._lock:
            return self.presence.online_users()

    def touch_poller(self, username: str) -> None:
        """``username`` polled /api/events: online for the poll window."""
        with self._lock:
            self._announce(self.presence.polled(username))

    def sweep(self) -> None:
        """Close connections whose session ended, and announce the offline transitions whose grace
        period ran out; call about once a second."""
        with self._lock:
            self._close_expired()
            self._announce(self.presence.sweep())

    def presence_changes(self) -> tuple[set[str] | None, dict[str, bool], int]:
        """Shared presence only: what this server must write to Redis (SharedPresence.take_changes)."""
        with self._lock:
            return self.presence.take_changes()

    def presence_lost(self) -> None:
        """Shared presence only: Redis did not take the last changes; rewrite everything next time."""
        with self._lock:
            self.presence.lost()

    def remote_presence(self, remote: set[str]) -> None:
        """Shared presence only: the other front servers' online users; announce what changed."""
        with self._lock:
            self._announce(self.presence.remote_update(remote))

    def _announce(self, transitions: list[tuple[str, bool]]) -> None:
        for user, online in transitions:
            frame = encode({"type": "presence", "user": user, "online": online})
            for conns in self._conns.values():
                for conn in conns:
                    conn.push(frame)

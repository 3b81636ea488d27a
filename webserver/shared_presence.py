"""Presence over several front servers: this server's own :class:`~webserver.presence.Presence`
plus the users the other front servers hold online; no Flask import, no I/O.

Each front server knows its own users exactly (their WebSockets and polls, with the offline grace)
and writes that set to Redis; :mod:`webserver.cluster` does the writing and reads back the union of
the other servers' sets. A user is online when any front server holds them. This class keeps the
two halves apart so that a local change is announced at once when no other server holds the user,
and a change elsewhere when the next read of Redis shows it; while Redis is away the local half
goes on as on a single server and the remote half stays as last read.

It answers the same calls as :class:`~webserver.presence.Presence` (the hub does not know which
it has) plus :meth:`take_changes` and :meth:`remote_update` for the cluster. The hub calls all of
them under its own lock.
"""

from __future__ import annotations

from webserver.presence import Presence, Transition


class SharedPresence:
    """This front server's presence joined with the other front servers' (see the module docstring)."""

    def __init__(self, local: Presence):
        self._local = local
        self._remote: set[str] = set()  # online on another front server, as last read from Redis
        self._changes: dict[str, bool] = {}  # local changes not yet written to Redis
        self._rewrite = True  # write the whole local set next time (at start, after Redis was away)

    # -- the calls of Presence ----------------------------------------------------------------

    def connected(self, user: str) -> list[Transition]:
        """A WebSocket of ``user`` opened on this server."""
        return self._seen_outside(self._local.connected(user))

    def disconnected(self, user: str) -> list[Transition]:
        """A WebSocket of ``user`` on this server closed."""
        return self._seen_outside(self._local.disconnected(user))

    def polled(self, user: str) -> list[Transition]:
        """``user`` polled ``/api/events`` on this server."""
        return self._seen_outside(self._local.polled(user))

    def sweep(self) -> list[Transition]:
        """Settle this server's users whose grace ran out."""
        return self._seen_outside(self._local.sweep())

    def online_users(self) -> set[str]:
        """Online anywhere: on this server or, as last read, on another."""
        return self._local.online_users() | self._remote

    # -- the cluster's side ---------------------------------------------------------------------

    def take_changes(self) -> tuple[set[str] | None, dict[str, bool], int]:
        """What to write to Redis: ``(whole, changes, size)``.

        ``whole`` is this server's whole online set when Redis must be told everything (first
        time, or after :meth:`lost`), else None; ``changes`` maps users to their new local state;
        ``size`` is how many users the set holds once written, to check that Redis kept it.
        """
        online = self._local.online_users()
        whole = online if self._rewrite else None
        changes, self._changes, self._rewrite = self._changes, {}, False
        return whole, changes, len(online)

    def lost(self) -> None:
        """A write to Redis failed or Redis lost its data: write the whole set next time."""
        self._rewrite = True
        self._changes = {}

    def remote_update(self, remote: set[str]) -> list[Transition]:
        """The other servers' users as just read from Redis; the transitions this makes."""
        local = self._local.online_users()
        before = self._remote | local
        self._remote = set(remote)
        after = self._remote | local
        return [(user, True) for user in sorted(after - before)] + [
            (user, False) for user in sorted(before - after)
        ]

    def _seen_outside(self, transitions: list[Transition]) -> list[Transition]:
        """Record local transitions for Redis; those that change the shared view, to announce now."""
        shown = []
        for user, online in transitions:
            self._changes[user] = online
            if user not in self._remote:
                shown.append((user, online))
        return shown

"""Who an event concerns, decided in one place for both feeds (Zulip's ``send_event(event, users)``).

Every event names its room (a message's ``room``, a room event's room object, or a room id), and by
default concerns the members of that room when it happened: for a room event that changes the
members, those before it and those after it (someone who leaves gets the event that removes them;
someone added gets the event that adds them). A kind that concerns others says so in
:data:`RULES`: the creation of a public room concerns everyone signed in, and the end of a session
concerns no client at all (only the hubs read it, to close that session's WebSockets).

The rule reads only the event and its room, so replaying the log at start-up decides exactly what
the append decided. The per-user feed asks ``username in audience``; the hub's feed asks
:meth:`Audience.users`. No I/O and no Flask here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from common.feed import EVERYONE, SESSION_ENDED

from .model import PUBLIC, Room


class Audience(Protocol):
    """Who one event concerns."""

    def __contains__(self, username: object) -> bool: ...

    def users(self) -> list[str] | str:
        """The usernames, or :data:`common.feed.EVERYONE`."""
        ...


class Members:
    """The members of ``room`` when event ``pos`` happened (the default audience)."""

    __slots__ = ("room", "pos")

    def __init__(self, room: Room, pos: int):
        self.room = room
        self.pos = pos

    def __contains__(self, username: object) -> bool:
        return isinstance(username, str) and self.room.member_at(username, self.pos)

    def users(self) -> list[str]:
        """The usernames."""
        return self.room.members_at(self.pos)


class Named:
    """Exactly these users, whatever the room's members are (say, the reader of a read position)."""

    __slots__ = ("names",)

    def __init__(self, names: Iterable[str]):
        self.names = frozenset(names)

    def __contains__(self, username: object) -> bool:
        return username in self.names

    def users(self) -> list[str]:
        """The usernames, sorted (the feed's bytes do not depend on hashing)."""
        return sorted(self.names)


class Everyone:
    """Every signed-in user."""

    __slots__ = ()

    def __contains__(self, username: object) -> bool:
        return True

    def users(self) -> str:
        """The marker the hub reads as "everyone it knows to be signed in"."""
        return EVERYONE


EVERYONE_SIGNED_IN = Everyone()

# A rule gets a newly applied event and its room, and returns its audience, or None for the
# default (the room's members at the event's pos, which costs no memory per event).
Rule = Callable[[dict, Room], "Audience | None"]


def _room_change(record: dict, room: Room) -> Audience | None:
    if record.get("action") == "created" and room.visibility == PUBLIC:
        return EVERYONE_SIGNED_IN
    return None


def _reader(record: dict, room: Room) -> Audience:
    return Named([record["user"]])


# No client: an event only the front servers' hubs read (they act on it, it is delivered to nobody).
NOBODY = Named(())


def _hubs_only(record: dict, room: Room) -> Audience:
    return NOBODY


# The kinds whose audience is not their room's members. A new kind that concerns someone else
# adds its rule here; most kinds need none.
RULES: dict[str, Rule] = {"room": _room_change, "read": _reader, SESSION_ENDED: _hubs_only}


def decide(record: dict, room: Room) -> Audience | None:
    """The audience of an event that is not the default one, or None; called once per event."""
    rule = RULES.get(record["type"])
    return rule(record, room) if rule is not None else None

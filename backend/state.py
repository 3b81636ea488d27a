"""Every room, rebuilt from the event log: the in-memory projection the store reads from. No I/O.

The store feeds each event through :meth:`Rooms.place` (validate, find or register the room) and
:meth:`Rooms.apply` both when replaying the log at start-up and after each append, so the two paths
cannot drift apart. :meth:`Rooms.apply` also records who the event concerns when that is not its
room's members (:mod:`backend.audience`), and :meth:`Rooms.audience` answers it for both feeds.
"""

from __future__ import annotations

from array import array

from common.feed import EVERYONE

from . import audience
from .audience import Audience, Members
from .model import CHANGES, DM, LEFT, Room
from .reading import apply_read, check_read

GENERAL = "general"
_ROOM_FIELDS = {"id": str, "name": str, "kind": str, "visibility": str, "created_at": str}


class Rooms:
    """Rooms by id and by number, the DM of each pair, and what each room event was."""

    def __init__(self):
        self.by_id: dict[str, Room] = {}
        self.in_order: list[Room] = []  # by creation; a room's ``number`` is its index here
        self.general: Room | None = None
        self._dms: dict[frozenset[str], Room] = {}
        # pos -> audience, only for the events that do not concern their room's members (few).
        self._audiences: dict[int, Audience] = {}
        # The positions of membership changes stored without the member list: the feeds serve
        # them with the list as of that event (Room.members_after).
        self.changes: set[int] = set()
        # What a user's feed reads instead of the whole log (the store's _user_positions): the
        # rooms each user has ever been in, the events that concern everyone, and those that
        # name their users (a read position: its reader), in pos order.
        self.rooms_of: dict[str, list[Room]] = {}
        self.everyone_positions = array("q")
        self.named_positions: dict[str, array] = {}

    def dm(self, pair: frozenset[str]) -> Room | None:
        """The direct-message room of two users, if they have one."""
        return self._dms.get(pair)

    def place(self, record: dict) -> Room:
        """Check an event's shape and return its room; a room's creation registers it.

        Messages and room events change the rooms and are checked in full; an event of any other
        kind only has to name a room that exists (see :func:`room_id`). Raises ValueError (or
        KeyError, TypeError) for a record that does not fit, before anything is changed.
        """
        if record["type"] == "message":
            # The hot path of start-up (a million of these): plain checks, no loop.
            message = record["message"]
            room = self.by_id[message["room"]]
            seq = message["seq"]
            if not (
                type(seq) is int
                and seq > room.last_seq
                and type(message["sender"]) is str
                and type(message["client_id"]) is str
            ):
                raise ValueError(f"message seq {seq!r} is malformed or not after {room.last_seq}")
            return room
        if record["type"] == "read":
            check_read(record)
        if record["type"] != "room":
            return self.by_id[room_id(record)]
        data = record["room"]
        _check(data, _ROOM_FIELDS)
        members = data.get("members")
        if is_change(record):
            _check_change(record, self.by_id.get(data["id"]))
        elif not isinstance(members, list) or not all(isinstance(name, str) for name in members):
            raise ValueError("members must be usernames")
        room = self.by_id.get(data["id"])
        if room is None:
            if record.get("action") != "created" or members is None:
                raise ValueError(f"room {data['id']} changed before it was created")
            room = self._register(data)
        return room

    def apply(self, room: Room, record: dict, pos: int) -> None:
        """Update ``room`` with event ``pos``, and note whom it concerns if not the room's members."""
        kind = record["type"]
        room.positions.append(pos)
        if kind == "message":
            message = record["message"]
            room.add_message(message["seq"], pos, message["sender"], message["client_id"])
        elif kind == "room":
            if is_change(record):
                newcomers = room.apply_change(record["action"], record["user"], pos)
                self.changes.add(pos)
            else:  # a room's creation, or a change stored with the whole list (older logs)
                newcomers = room.apply_membership(record["room"]["members"], pos)
            for name in newcomers:
                self.rooms_of.setdefault(name, []).append(room)
        elif kind == "read":
            apply_read(room, record)
        special = audience.decide(record, room)
        if special is not None:
            self._audiences[pos] = special
            users = special.users()
            if users == EVERYONE:
                self.everyone_positions.append(pos)
            else:
                for name in users:
                    self.named_positions.setdefault(name, array("q")).append(pos)

    def audience(self, room: Room, pos: int) -> Audience:
        """Who event ``pos`` of ``room`` concerns: the one answer both feeds read."""
        special = self._audiences.get(pos)
        return Members(room, pos) if special is None else special

    def concerns(self, room: Room, pos: int, username: str) -> bool:
        """``username in self.audience(room, pos)`` without building the audience.

        The per-user feed asks this for every position it scans (up to 20,000 per call), where
        the object :meth:`audience` builds would cost a third more.
        """
        special = self._audiences.get(pos)
        return room.member_at(username, pos) if special is None else username in special

    def _register(self, data: dict) -> Room:
        room = Room(
            id=data["id"],
            number=len(self.in_order),
            name=data["name"],
            kind=data["kind"],
            visibility=data["visibility"],
            created_by=data.get("created_by"),
            created_at=data["created_at"],
        )
        self.by_id[room.id] = room
        self.in_order.append(room)
        if room.kind == DM:
            self._dms[frozenset(data["members"])] = room
        if room.name == GENERAL and room.created_by is None and self.general is None:
            self.general = room
        return room


def room_id(record: dict) -> str:
    """The id of the room an event belongs to: every event names one.

    ``"room"`` is the room's id or (for room events) the room itself; a message, or an event about
    one, names it as ``message["room"]``.
    """
    room = record.get("room")
    if isinstance(room, str):
        return room
    if isinstance(room, dict):
        return room["id"]
    return record["message"]["room"]


def is_change(record: dict) -> bool:
    """Whether a room event is a membership change stored as the change (no ``members`` list).

    A change names its ``action`` (joined, added, left) and ``user``; its room object is the room
    without its members, so a join in a room of a thousand members writes one short line rather
    than the thousand names. Logs written before keep the whole list in every room event, and are
    read as they are.
    """
    return record.get("type") == "room" and "members" not in record.get("room", {})


def _check_change(record: dict, room: Room | None) -> None:
    action, user = record.get("action"), record.get("user")
    if action not in CHANGES or not isinstance(user, str):
        raise ValueError(f"a room event without members must be a change of one user, not {action!r}")
    if room is None:
        raise ValueError("a membership change of a room that does not exist")
    if (action == LEFT) != room.has_member(user):
        raise ValueError(f"{user!r} cannot have {action} room {room.id}")


def _check(data: object, fields: dict[str, type]) -> None:
    if not isinstance(data, dict):
        raise TypeError("not an object")
    for name, kind in fields.items():
        if not isinstance(data.get(name), kind):
            raise ValueError(f"{name!r} missing or not a {kind.__name__}")

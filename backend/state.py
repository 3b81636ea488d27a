"""Every room, rebuilt from the event log: the in-memory projection the store reads from. No I/O.

The store feeds each event through :meth:`Rooms.place` (validate, find or register the room) and
:meth:`Rooms.apply` both when replaying the log at start-up and after each append, so the two paths
cannot drift apart.
"""

from __future__ import annotations

from .model import DM, PUBLIC, Room

GENERAL = "general"
_ROOM_FIELDS = {"id": str, "name": str, "kind": str, "visibility": str, "members": list, "created_at": str}


class Rooms:
    """Rooms by id and by number, the DM of each pair, and what each room event was."""

    def __init__(self):
        self.by_id: dict[str, Room] = {}
        self.in_order: list[Room] = []  # by creation; a room's ``number`` is its index here
        self.general: Room | None = None
        self._dms: dict[frozenset[str], Room] = {}
        self._room_events: dict[int, tuple[str, str | None]] = {}  # pos -> (action, user)

    def dm(self, pair: frozenset[str]) -> Room | None:
        """The direct-message room of two users, if they have one."""
        return self._dms.get(pair)

    def place(self, record: dict) -> Room:
        """Check an event's shape and return its room; a room's creation registers it.

        Raises ValueError (or KeyError, TypeError) for a record that does not fit, before
        anything is changed.
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
        if record["type"] != "room":
            raise ValueError(f"unknown event type {record['type']!r}")
        data = record["room"]
        _check(data, _ROOM_FIELDS)
        if not all(isinstance(name, str) for name in data["members"]):
            raise ValueError("members must be usernames")
        room = self.by_id.get(data["id"])
        if room is None:
            if record.get("action") != "created":
                raise ValueError(f"room {data['id']} changed before it was created")
            room = self._register(data)
        return room

    def apply(self, room: Room, record: dict, pos: int) -> None:
        """Update ``room`` with event ``pos``."""
        if record["type"] == "message":
            message = record["message"]
            room.add_message(message["seq"], pos, message["sender"], message["client_id"])
        else:
            room.apply_membership(record["room"]["members"], pos)
            self._room_events[pos] = (record["action"], record.get("user"))

    def concerns(self, room: Room, pos: int, username: str) -> bool:
        """Whether event ``pos`` of ``room`` is one ``username`` receives (see docs/architecture.md)."""
        if room.member_at(username, pos):
            return True
        action, user = self._room_events.get(pos, (None, None))
        return (action == "created" and room.visibility == PUBLIC) or (action == "left" and user == username)

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


def _check(data: object, fields: dict[str, type]) -> None:
    if not isinstance(data, dict):
        raise TypeError("not an object")
    for name, kind in fields.items():
        if not isinstance(data.get(name), kind):
            raise ValueError(f"{name!r} missing or not a {kind.__name__}")

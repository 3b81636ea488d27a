"""In-memory state rebuilt from the event log: rooms, their members over time, their messages' places.

Nothing here touches a file; :mod:`backend.store` applies each stored event to these objects, both
at start-up (replaying the log) and after every append, so the two paths cannot drift apart.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field

GROUP, DM = "group", "dm"
PUBLIC, PRIVATE = "public", "private"
# The membership changes a room event may record (besides "created", which lists the members).
JOINED, ADDED, LEFT = "joined", "added", "left"
CHANGES = (JOINED, ADDED, LEFT)


def client_key(sender: str, client_id: str) -> str:
    """The idempotency key of a message (a client_id never holds a space)."""
    return f"{sender} {client_id}"


@dataclass
class Room:
    """A room as of the latest applied event, plus the indexes that answer reads without a scan."""

    id: str
    number: int  # position in the store's room list; what the per-event index stores
    name: str
    kind: str
    visibility: str
    created_by: str | None
    created_at: str
    members: list[str] = field(default_factory=list)
    last_seq: int = 0
    # seq_pos[seq - 1] is the global pos of message number seq: history pages read only their lines.
    seq_pos: array = field(default_factory=lambda: array("q"))
    # "sender client_id" -> pos of the first message sent with that client_id: idempotent posting.
    # One string key rather than a tuple: a million messages cost ~100 MB less.
    client_ids: dict[str, int] = field(default_factory=dict)
    # username -> [first pos as member, last pos as member or None while still in]; a member sees
    # the room's events from the one that added them up to and including the one that removed them.
    spans: dict[str, list[list[int | None]]] = field(default_factory=dict)
    # The pos of the latest event that changed the members: any later event concerns ``members``.
    changed_at: int = 0
    # username -> the seq up to which they have read the room (backend/reading.py).
    read_seq: dict[str, int] = field(default_factory=dict)
    # The pos of every event of the room, in order: a user's feed reads only its rooms' events.
    positions: array = field(default_factory=lambda: array("q"))

    def to_json(self) -> dict:
        """The contract's room object."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "visibility": self.visibility,
            "members": list(self.members),
            "last_seq": self.last_seq,
            "created_by": self.created_by,
            "created_at": self.created_at,
        }

    def has_member(self, username: str) -> bool:
        """Whether ``username`` is a member now."""
        spans = self.spans.get(username)
        return bool(spans) and spans[-1][1] is None

    def member_at(self, username: str, pos: int) -> bool:
        """Whether ``username`` was a member when event ``pos`` happened."""
        for start, end in self.spans.get(username, ()):
            if start <= pos and (end is None or pos <= end):
                return True
        return False

    def members_at(self, pos: int) -> list[str]:
        """Everyone who was a member when event ``pos`` happened, the one it removed included.

        Readers take no lock: ``members`` is read before ``changed_at``, which
        :meth:`apply_membership` sets first, so a change being applied sends this down the slow
        path rather than handing out members who joined after ``pos``. The list is not to be changed.
        """
        members = self.members
        if pos > self.changed_at:
            return members
        return [
            name
            for name, spans in list(self.spans.items())
            if any(start <= pos and (end is None or pos <= end) for start, end in spans)
        ]

    def visible_to(self, username: str) -> bool:
        """Public rooms are visible to everyone signed in; others only to their members."""
        return self.visibility == PUBLIC or self.has_member(username)

    def members_after(self, pos: int) -> list[str]:
        """The members right after event ``pos``, in the order they joined (as ``members`` lists them).

        Served in a membership change's room object, which the log stores without the list.
        """
        covering = []
        for name, spans in list(self.spans.items()):
            for start, end in spans:
                if start <= pos and (end is None or pos < end):
                    covering.append((start, name))
                    break
        covering.sort(key=lambda item: item[0])  # stable: a room's first members keep their order
        return [name for _, name in covering]

    def apply_change(self, action: str, user: str, pos: int) -> list[str]:
        """Apply one membership change of event ``pos``: ``user`` joined, was added, or left.

        Returns ``[user]`` if this is the first time they are a member, else ``[]``.
        """
        self.changed_at = pos  # first: see members_at
        if action == LEFT:
            self.spans[user][-1][1] = pos
            self.members = [name for name in self.members if name != user]
            return []
        first = user not in self.spans
        self.spans.setdefault(user, []).append([pos, None])
        self.members = [*self.members, user]
        return [user] if first else []

    def apply_membership(self, members: list[str], pos: int) -> list[str]:
        """Set the member list as of event ``pos``, opening and closing membership spans.

        Returns the names who are members for the first time.
        """
        self.changed_at = pos  # first: see members_at
        before, after = set(self.members), set(members)
        first = []
        for name in members:  # in the list's order: members_after lists a room's first members so
            if name not in before:
                if name not in self.spans:
                    first.append(name)
                self.spans.setdefault(name, []).append([pos, None])
        for name in before - after:
            self.spans[name][-1][1] = pos
        self.members = list(members)
        return first

    def add_message(self, seq: int, pos: int, sender: str, client_id: str) -> None:
        """Index a stored message."""
        while len(self.seq_pos) < seq - 1:  # a skipped unreadable line leaves a hole, not a shift
            self.seq_pos.append(-1)
        self.seq_pos.append(pos)
        self.last_seq = seq
        self.client_ids.setdefault(client_key(sender, client_id), pos)

    def seq_range(self, after: int | None, before: int | None, limit: int) -> range:
        """The seqs of one history page, oldest first: after SEQ, just before SEQ, or the latest."""
        if after is not None:
            return range(after + 1, min(self.last_seq, after + limit) + 1)
        end = self.last_seq if before is None else min(before - 1, self.last_seq)
        return range(max(1, end - limit + 1), end + 1)

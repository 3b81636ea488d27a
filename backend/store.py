"""The backend's state: accounts, rooms and the one event log, on plain files under the data dir.

``events.jsonl`` holds every event (messages, room changes, any kind) as the contract's event object, one
line each, in ``pos`` order. At start-up the log is replayed into :mod:`backend.model` objects and
three arrays indexed by ``pos`` (byte offset, line length, room number), so a history page or an
events query reads only the lines it returns. One lock orders all writes; an append returns only
after fsync, and an event becomes visible to readers only then, so nobody ever sees a ``pos`` that
a crash could take back.
"""

from __future__ import annotations

import bisect
import heapq
import logging
import os
import secrets
import threading
import time
from array import array
from collections.abc import Callable, Iterator

import orjson

from common.feed import SESSION_ENDED, token_digest

from . import checkpoint
from .accounts import Accounts, canonical
from .audience import Audience
from .changes import KINDS, Changes
from .clock import now_iso
from .datadir import lock_data_dir
from .eventlog import EventLog
from .handoffs import Handoffs
from .lifecycle import Lifecycle
from .model import DM, GROUP, PRIVATE, PUBLIC, Room, client_key
from .reading import Reading
from .refusals import Forbidden, Invalid, NotAMember, NotFound
from .searchindex import INDEX_FILE, SearchIndex
from .searchsource import SearchSource
from .state import GENERAL, Rooms, room_id

log = logging.getLogger(__name__)

# Positions one feed call looks at most: a user outside a busy room is not kept waiting while the
# room's events are skipped (the answer says ``more`` and the next call goes on from there).
SCAN_LIMIT = 20_000


class Store(Lifecycle, Reading, SearchSource):
    """Rooms, memberships and messages over an append-only event log.

    Reading, editing, deleting and reacting to one message: :class:`backend.lifecycle.Lifecycle`;
    read positions: :class:`backend.reading.Reading`; what search reads:
    :class:`backend.searchsource.SearchSource`.
    """

    def __init__(self, data_dir: str):
        self._lock_fd = lock_data_dir(data_dir)
        self._lock = threading.Lock()
        self._new_event = threading.Condition(self._lock)
        # The events front servers get in the answers to the changes they relay.
        self.handoffs = Handoffs(self._new_event, lambda: self.pos)
        self.accounts = Accounts(data_dir)
        self._log = EventLog(os.path.join(data_dir, "events.jsonl"))
        self._rooms = Rooms()
        self._files: dict[str, tuple[str, int]] = {}  # file id: (room id, seq) of its message
        self._changes = Changes()  # the current state of every changed message (backend.changes)
        self.pos = 0
        self._data_dir = data_dir
        replayed = 0
        for offset, length, record in self._log.recover(self._restore()):
            self._replay(offset, length, record)
            replayed += 1
        self._appended = 0  # events appended since the last checkpoint
        if replayed >= checkpoint.AFTER_REPLAYED:
            self._checkpoint()
        # Follows the log once started (backend.create_app, or the server's worker after fork).
        self.search = SearchIndex(os.path.join(data_dir, INDEX_FILE), self)
        with self._lock:
            if self._rooms.general is None:
                self._append_room_event(self._new_room(GENERAL, GROUP, PUBLIC, None), "created", None, [])
            for username in self.accounts.usernames():  # a crash between registering and joining
                self._join_general(username)

    def close(self) -> None:
        """Release the files and the data directory lock."""
        self.search.stop()
        self._log.close()
        self.accounts.close()
        os.close(self._lock_fd)

    # -- rooms -------------------------------------------------------------------------------

    def room(self, username: str, room_id: str) -> Room:
        """The room ``room_id`` if ``username`` may see it, else NotFound.

        A private room or DM looks to a non-member the same as one that does not exist. Every
        method that takes a room id checks access here, once; routes do not check before.
        """
        room = self._rooms.by_id.get(room_id)
        if room is None or not room.visible_to(username):
            raise NotFound("No such room.")
        return room

    def rooms_for(self, username: str) -> list[dict]:
        """The user's rooms and every public room, oldest first, each with ``member``; the user's
        own rooms also with ``read_seq``, their read position (backend/reading.py)."""
        listed = []
        for room in self._rooms.in_order:
            if room.visible_to(username):
                member = room.has_member(username)
                extra = (
                    {"member": True, "read_seq": room.read_seq.get(username, 0)}
                    if member
                    else {"member": False}
                )
                listed.append(room.to_json() | extra)
        return listed

    def create_room(self, creator: str, name: str, visibility: str, members: list[str]) -> dict:
        """Create a group room with ``creator`` and ``members`` (already validated usernames)."""
        with self._lock:
            room = self._new_room(name, GROUP, visibility, creator)
            everyone = _unique([creator, *members])
            return self._append_room_event(room, "created", creator, everyone)

    def add_member(
        self,
        actor: str,
        room_id: str,
        username: str,
        known: Callable[[str], str] | None = None,
        admit: Callable[[], None] | None = None,
    ) -> tuple[dict, bool]:
        """Join a public room yourself, or add someone to a room you are in; ``(room, changed)``.

        ``known``, when given, turns the name as the caller typed it into a registered user's (or
        raises Invalid); it runs once the room is found, so a hidden room stays hidden whatever
        the name. ``admit`` runs only for a change that will be stored (the actor's rate limit).
        """
        with self._lock:
            room = self.room(actor, room_id)
            if known is not None:
                username = known(username)
            if username != actor and not room.has_member(actor):
                raise NotAMember("Join the room before adding others.")
            if room.has_member(username):
                return room.to_json(), False
            if room.kind == DM:
                raise Forbidden("Nobody can be added to a direct message.")
            if admit is not None:
                admit()
            action = "joined" if username == actor else "added"
            return self._append_room_event(room, action, username), True

    def leave(
        self,
        actor: str,
        room_id: str,
        username: str | None = None,
        admit: Callable[[], None] | None = None,
    ) -> None:
        """Leave a group room; ``username`` (the name a request gave) must be ``actor``'s own.

        ``admit`` runs only when the leave will be stored (the actor's rate limit).
        """
        with self._lock:
            room = self.room(actor, room_id)
            if username is not None and canonical(username) != canonical(actor):
                raise Forbidden("You can only remove yourself from a room.")
            if room.kind == DM:
                raise Forbidden("A direct message cannot be left.")
            if not room.has_member(actor):
                raise NotAMember("You are not a member of this room.")
            if admit is not None:
                admit()
            self._append_room_event(room, "left", actor)

    def open_dm(self, actor: str, other: str) -> tuple[dict, bool]:
        """The one DM room of the pair; ``(room, created)``."""
        if canonical(other) == canonical(actor):
            raise Invalid("A direct message needs someone other than yourself.")
        pair = frozenset((actor, other))
        with self._lock:
            room = self._rooms.dm(pair)
            if room is not None:
                return room.to_json(), False
            members = sorted(pair, key=str.casefold)
            room = self._new_room(", ".join(members), DM, PRIVATE, actor)
            return self._append_room_event(room, "created", actor, members), True

    def join_general(self, username: str) -> None:
        """Make ``username`` a member of ``general`` unless they ever were one (leaving is final).

        Called on every sign-in, so a registration whose join failed (say, disk full) is completed
        by the next sign-in rather than only by the next start.
        """
        with self._lock:
            self._join_general(username)

    def sign_out(self, token: str) -> None:
        """End a session for good, and tell every front server's hub so it closes its WebSockets.

        The ``session_ended`` event (:mod:`common.feed`) names the user and the token's digest; it
        concerns no client (:mod:`backend.audience`), so only the hubs' feed carries it. Like
        every event it names a room: ``general``, the one room that always exists.
        """
        username = self.accounts.revoke(token)
        if username is not None:
            event = {"type": SESSION_ENDED, "room": self._rooms.general.id, "user": username}
            self.append_event(event | {"session": token_digest(token)})

    def rooms_snapshot(self) -> tuple[list[dict], int]:
        """Every room with its members, and the ``pos`` they are as of."""
        with self._lock:
            return [room.to_json() for room in self._rooms.in_order], self.pos

    # -- messages ----------------------------------------------------------------------------

    def messages(
        self, username: str, room_id: str, after: int | None, before: int | None, limit: int
    ) -> tuple[list[dict], int]:
        """One page of a room's history, oldest first, and the room's ``last_seq``."""
        room = self.room(username, room_id)
        last_seq = room.last_seq
        page = []
        for seq in room.seq_range(after, before, limit):
            pos = room.seq_pos[seq - 1]
            if pos > 0:
                page.append(self._current_at(room, seq, pos))
        return page, last_seq

    def find_message(self, sender: str, room_id: str, client_id: str) -> dict | None:
        """The message ``sender`` already stored in the room under ``client_id``, if any."""
        room = self._rooms.by_id.get(room_id)
        pos = room.client_ids.get(client_key(sender, client_id)) if room else None
        return self._first(room, pos) if pos else None

    def post_message(
        self,
        sender: str,
        room_id: str,
        text: str,
        client_id: str,
        admit: Callable[[], None] | None = None,
        *,
        reply_to: int | None = None,
        file: dict | None = None,
    ) -> tuple[dict, bool]:
        """Store a message; ``(message, created)``. A repeated ``client_id`` returns the first one.

        ``admit`` runs only for a message that will be stored (the sender's rate limit, which may
        raise): a retry is answered without it, so retrying costs the sender nothing. ``reply_to``
        is the seq of the message it answers, in the same room (Invalid otherwise). ``file`` is
        the contract's file object of an attachment whose body is already durable on disk
        (:mod:`backend.files`); with one, ``text`` (the caption) may be empty.
        """
        with self._lock:
            room = self.room(sender, room_id)
            first = room.client_ids.get(client_key(sender, client_id))
            if first is not None:
                return self._first(room, first), False
            if not room.has_member(sender):
                raise NotAMember("You are not a member of this room.")
            self.reply_target(room, reply_to)
            if admit is not None:
                admit()
            message = {
                "id": "m" + secrets.token_hex(8),
                "room": room.id,
                "seq": room.last_seq + 1,
                "pos": self.pos + 1,
                "sender": sender,
                "text": text,
                "ts": now_iso(),
                "client_id": client_id,
            }
            if reply_to is not None:
                message["reply_to"] = reply_to
            if file is not None:
                message["file"] = file
            self._append({"type": "message", "pos": message["pos"], "message": message})
            return message, True

    def file_message(self, file_id: str) -> tuple[str, int] | None:
        """``(room id, seq)`` of the message that carries the file ``file_id``, if any."""
        return self._files.get(file_id)

    # -- events ------------------------------------------------------------------------------

    def append_event(self, record: dict) -> dict:
        """Append an event of a kind with no method of its own; returns it as stored, with its pos.

        ``record`` is the event without ``pos``: a ``type`` and its fields, naming its room (see
        :func:`backend.state.room_id`). Whom it concerns follows from its kind
        (:mod:`backend.audience`): its room's members unless a rule says otherwise. Raises
        KeyError for a room that does not exist and ValueError for the kinds that change rooms
        (messages, room events and changes to messages have their own methods), before anything
        is written.
        """
        kind = record.get("type")
        if kind in ("message", "room", *KINDS) or not isinstance(kind, str):
            raise ValueError(f"append_event cannot append an event of type {kind!r}")
        with self._lock:
            event = {"type": kind, "pos": self.pos + 1}
            event.update((key, value) for key, value in record.items() if key not in event)
            if room_id(event) not in self._rooms.by_id:
                raise KeyError(f"no room {room_id(event)!r}")
            self._append(event)
            return event

    def events(
        self,
        after: int,
        limit: int,
        wait: float = 0,
        username: str | None = None,
        scan_limit: int = SCAN_LIMIT,
    ) -> tuple[list[bytes], int, bool]:
        """Raw event lines after ``after``: all of them, or those concerning ``username``.

        Returns ``(lines, cursor, more)``. At most ``scan_limit`` positions are looked at per call
        so that a user outside a busy room is not made to wait while it is skipped; the cursor then
        stops where the scan stopped and ``more`` is true. With ``wait``, blocks until at least one
        line can be returned or the time is up.
        """
        positions, cursor, more = self._select(after, limit, wait, username, scan_limit)
        return [self._served_line(pos) for pos in positions], cursor, more

    def addressed_events(
        self, after: int, limit: int, wait: float = 0, front: str | None = None
    ) -> tuple[list[tuple[bytes, list[str] | str]], int, bool]:
        """Every event line after ``after`` with whom it concerns, for the hub; else like :meth:`events`.

        Each item is ``(line, users)``: ``users`` is a list of usernames or
        :data:`common.feed.EVERYONE`, from the same :meth:`audience` the per-user feed asks.
        ``front`` names the asking front server: a wait then sleeps through the events handed to
        it in its answers (:mod:`backend.handoffs`).
        """
        deadline = time.monotonic() + wait
        page = self._select(after, limit, wait, None, SCAN_LIMIT)
        if front is not None and wait > 0:
            page = self.handoffs.sleep_through(front, after, limit, page, deadline, self._page_after)
        positions, cursor, more = page
        return [(self._served_line(pos), self.audience(pos).users()) for pos in positions], cursor, more

    def _page_after(self, after: int, limit: int) -> tuple[list[int], int, bool]:
        """The positions of the whole log after ``after``, without waiting (see :meth:`_select`)."""
        return self._select(after, limit, 0, None, SCAN_LIMIT)

    def audience(self, pos: int) -> Audience:
        """Who event ``pos`` concerns (see :mod:`backend.audience`)."""
        return self._rooms.audience(self._rooms.in_order[self._log.room_number(pos)], pos)

    def _select(
        self, after: int, limit: int, wait: float, username: str | None, scan_limit: int
    ) -> tuple[list[int], int, bool]:
        """The positions to serve after ``after``, the cursor, and whether the log goes on.

        For the hub (``username`` None) every position of the log, in order. For one user only
        the positions that may concern them (:meth:`_user_positions`): a user in a few quiet rooms
        catches up from ``pos`` 0 on a log of millions by reading a few hundred positions. At
        most ``scan_limit`` positions are examined per call either way.
        """
        deadline = time.monotonic() + wait
        cursor = min(after, self.pos)
        rooms, concerns, room_number = self._rooms.in_order, self._rooms.concerns, self._log.room_number
        while True:
            end = min(self.pos, cursor + scan_limit) if username is None else self.pos
            candidates = (
                range(cursor + 1, end + 1)
                if username is None
                else self._user_positions(username, cursor, end)
            )
            found: list[int] = []
            examined = 0
            for pos in candidates:
                if pos <= cursor:
                    continue  # the same position from two of the merged indexes
                if len(found) >= limit or examined >= scan_limit:
                    break
                cursor = pos
                examined += 1
                if self._log.has(pos) and (
                    username is None or concerns(rooms[room_number(pos)], pos, username)
                ):
                    found.append(pos)
            else:
                cursor = end
            more = cursor < self.pos
            remaining = deadline - time.monotonic()
            if found or more or remaining <= 0:
                return found, cursor, more
            self._wait_past(cursor, remaining)  # caught up with nothing to return

    def _user_positions(self, username: str, after: int, end: int) -> Iterator[int]:
        """In pos order, the positions in ``(after, end]`` that may concern ``username``.

        Merged from the room index: each room's events during the user's memberships of it,
        the events that concern everyone, and those that name the user. A position may come
        twice (from two of them); the caller checks each against :meth:`Rooms.concerns`.
        """
        streams = []
        for room in self._rooms.rooms_of.get(username, ()):
            # Newest first: the spans are in order, so once one ended by ``after`` all earlier did.
            for start, stop in reversed(list(room.spans.get(username, ()))):
                if stop is not None and stop <= after:
                    break
                streams.append(
                    _between(room.positions, max(start, after + 1), end if stop is None else min(stop, end))
                )
        streams.append(_between(self._rooms.everyone_positions, after + 1, end))
        named = self._rooms.named_positions.get(username)
        if named is not None:
            streams.append(_between(named, after + 1, end))
        return heapq.merge(*streams)

    def _wait_past(self, pos: int, timeout: float) -> None:
        with self._new_event:
            self._new_event.wait_for(lambda: self.pos > pos, timeout=timeout)

    # -- writing and replaying the log (callers hold the lock) ------------------------------------

    def _first(self, room: Room, pos: int) -> dict:
        """The message stored at ``pos`` in ``room``, as it is now."""
        message = self._log.event(pos)["message"]
        change = self._changes.get(room, message["seq"])
        return message if change is None else orjson.loads(self._message_bytes(change))

    def _new_room(self, name: str, kind: str, visibility: str, creator: str | None) -> Room:
        return Room(
            id="r" + secrets.token_hex(6),
            number=len(self._rooms.in_order),
            name=name,
            kind=kind,
            visibility=visibility,
            created_by=creator,
            created_at=now_iso(),
        )

    def _join_general(self, username: str) -> None:
        general = self._rooms.general
        if username not in general.spans:
            self._append_room_event(general, "joined", username)

    def _append_room_event(
        self, room: Room, action: str, user: str | None, members: list[str] | None = None
    ) -> dict:
        """Append a room's creation (with its first ``members``) or a change of one member.

        A change is stored as the change: ``action`` and ``user``, with the room without its
        member list. The feeds serve it with the list as of that event (:meth:`_served_line`), so
        clients see the contract's room object either way.
        """
        snapshot = room.to_json()
        if action == "created":
            snapshot["members"] = members or []
        else:
            del snapshot["members"]
        self._append({"type": "room", "pos": self.pos + 1, "room": snapshot, "action": action, "user": user})
        return self._rooms.by_id[room.id].to_json()

    def _append(self, record: dict) -> None:
        offset, length = self._log.append(record)
        self._apply(offset, length, record)
        self.handoffs.appended(record["pos"])
        self._new_event.notify_all()
        self._appended += 1
        if self._appended >= checkpoint.EVERY:
            self._checkpoint()

    def _restore(self) -> int:
        """Load the indexes of the data directory's checkpoint if it is sound; the byte of the log
        to replay from (0 without one). See :mod:`backend.checkpoint`."""
        checkpoint.remove_leftovers(self._data_dir)
        found = checkpoint.read(self._data_dir, self._log.path)
        if found is None:
            return 0
        state, self.pos, log_bytes = found
        self._log.restore(state["index"])
        self._rooms, self._files, self._changes = state["rooms"], state["files"], state["changes"]
        log.info("%s: indexes loaded up to pos %d; replaying the log after it", self._log.path, self.pos)
        return log_bytes

    def _checkpoint(self) -> None:
        """(Lock held, or still starting.) Write a checkpoint of the indexes as they are now, from
        a forked process; the server goes on at once."""
        state = {
            "index": self._log.arrays(),
            "rooms": self._rooms,
            "files": self._files,
            "changes": self._changes,
        }
        self._appended = 0
        try:
            checkpoint.write_in_background(self._data_dir, self._log.path, self._log.size, self.pos, state)
        except OSError as error:  # no process to spare: the next start replays more, nothing is lost
            log.warning("%s: no checkpoint written (%s)", self._log.path, error)

    def _replay(self, offset: int, length: int, record: dict) -> None:
        try:
            if not isinstance(record.get("pos"), int) or record["pos"] <= self.pos:
                raise ValueError(f"pos {record.get('pos')!r} is not after {self.pos}")
            self._apply(offset, length, record)
        except (KeyError, TypeError, ValueError, IndexError) as error:
            log.warning("%s at byte %d: skipping an unusable event (%s)", self._log.path, offset, error)

    def _apply(self, offset: int, length: int, record: dict) -> None:
        # Index the line before updating the room, and move ``pos`` last: readers take no lock, and
        # whatever they can reach through a room or ``pos`` must already be readable.
        pos = record["pos"]
        room = self._rooms.place(record)
        change = self._changes.prepare(room, record) if record["type"] in KINDS else None
        self._log.index(pos, offset, length, room.number)
        self._rooms.apply(room, record, pos)
        if change is not None:
            self._changes.commit(room, record["seq"], change, pos)
        if record["type"] == "message" and "file" in record["message"]:
            message = record["message"]
            self._files[message["file"]["id"]] = (message["room"], message["seq"])
        self.pos = pos


def _between(positions: array, low: int, high: int) -> Iterator[int]:
    """The items of a sorted ``positions`` array from ``low`` to ``high`` inclusive, read lazily."""
    if low > high:
        return iter(())
    first, last = bisect.bisect_left(positions, low), bisect.bisect_right(positions, high)
    return map(positions.__getitem__, range(first, last))


def _unique(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))

/**
 * What the page knows: the signed-in user, rooms, people, the loaded history of each room and
 * how far the user has read. Plain data and rules, no DOM and no I/O. Only the controller
 * (controller.js and its event table, renderers.js) changes it; the views read from it.
 */

import { TYPING_SHOWN_MS, beforeMention, usernameClass } from './rules.js';

/**
 * One room's loaded messages: a contiguous run of `seq` numbers, oldest first. Usually the run
 * reaches the room's newest message; opened at a search result it is the run around that message,
 * and `newer` says that later ones are still on the server.
 */
class History {
  constructor() {
    this.reset();
  }

  /** Forget every loaded message. */
  reset() {
    this.messages = [];
    this.loaded = false; // the latest page (or, with `newer`, a page around a message) was fetched
    this.hasOlder = true; // messages before the first loaded one exist
    this.newer = false; // messages after the last loaded one exist and are not loaded
  }

  get first() {
    return this.messages.length ? this.messages[0].seq : null;
  }

  get last() {
    return this.messages.length ? this.messages[this.messages.length - 1].seq : 0;
  }

  /** The index of `seq` in `messages`, or -1 (binary search: the run is sorted). */
  indexOf(seq) {
    let lo = 0;
    let hi = this.messages.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const at = this.messages[mid].seq;
      if (at === seq) return mid;
      if (at < seq) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Merge `messages` in, ignoring ones already here; returns the new ones, oldest first. */
  merge(messages) {
    const fresh = messages.filter((m) => this.indexOf(m.seq) < 0).sort((a, b) => a.seq - b.seq);
    if (!fresh.length) return fresh;
    if (fresh[0].seq > this.last) this.messages.push(...fresh);
    else if (this.messages.length && fresh[fresh.length - 1].seq < this.first) this.messages.unshift(...fresh);
    else this.messages = this.messages.concat(fresh).sort((a, b) => a.seq - b.seq);
    return fresh;
  }

  /** Put a changed copy of a loaded message in its place; false when it is not loaded. */
  replace(message) {
    const index = this.indexOf(message.seq);
    if (index < 0) return false;
    this.messages[index] = message;
    return true;
  }

  /** Up to `count` loaded messages just before `seq` (or just after it, with `after`). */
  around(seq, count, after = false) {
    const index = this.indexOf(seq);
    if (index < 0) return [];
    return after ? this.messages.slice(index + 1, index + 1 + count) : this.messages.slice(Math.max(0, index - count), index);
  }

  /** Forget all but the newest `count` messages (a room the reader left). */
  keepNewest(count) {
    if (this.newer) {
      this.reset(); // a run around an old message: next time the room opens at its end
      return;
    }
    if (this.messages.length <= count) return;
    this.messages = this.messages.slice(-count);
    this.hasOlder = true;
  }
}

export class Store {
  constructor(me) {
    this.me = me;
    this.rooms = new Map();
    this.users = new Map();
    this.histories = new Map();
    // room id -> last seq the user has seen; a room missing here has nothing read yet. The
    // server keeps it (each room's read_seq, and read events from the user's other tabs).
    this.lastRead = {};
    this.current = null;
    this.typing = new Map(); // room id -> Map(user -> expiry time)
  }

  isMember(room) {
    return Array.isArray(room.members) && room.members.includes(this.me);
  }

  /** Take the start-up room list, with the server's read position of each of the user's rooms. */
  setRooms(rooms) {
    this.rooms.clear();
    for (const room of rooms) {
      this.rooms.set(room.id, room);
      if (this.isMember(room)) this.markReadUpTo(room.id, room.read_seq || 0);
    }
  }

  /** Apply a room as a room event or an API answer shows it; returns the stored room. */
  putRoom(room) {
    const before = this.rooms.get(room.id);
    const merged = { ...before, ...room };
    // An event's copy may be older than a message already seen; last_seq only moves forward.
    if (before && before.last_seq > (room.last_seq || 0)) merged.last_seq = before.last_seq;
    if (!this.isMember(merged) && merged.visibility !== 'public') {
      this.rooms.delete(room.id);
      this.histories.delete(room.id);
      return null;
    }
    this.rooms.set(room.id, merged);
    return merged;
  }

  /** The user's own rooms of one kind (`group` or `dm`), sorted by the name shown. */
  myRooms(kind) {
    return [...this.rooms.values()]
      .filter((room) => room.kind === kind && this.isMember(room))
      .sort((a, b) => this.title(a).localeCompare(this.title(b)));
  }

  /** Public rooms the user could join. */
  joinable() {
    return [...this.rooms.values()]
      .filter((room) => room.visibility === 'public' && room.kind === 'group' && !this.isMember(room))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The name to show for a room: a DM shows the other person. */
  title(room) {
    if (room.kind === 'dm') return room.members.find((name) => name !== this.me) || room.name;
    return room.name;
  }

  /**
   * What tells a group room from another of the same name the user sees: "by alice" (its creator;
   * `general` was created by nobody), and its visibility too when the creator is the same. Empty
   * for a room whose name is its own.
   */
  detail(room) {
    if (room.kind !== 'group') return '';
    const twins = [...this.rooms.values()].filter((other) => other.kind === 'group' && other.id !== room.id && other.name === room.name);
    if (!twins.length) return '';
    const by = room.created_by ? `by ${room.created_by}` : 'built in';
    return twins.some((other) => other.created_by === room.created_by) ? `${by} · ${room.visibility}` : by;
  }

  history(roomId) {
    if (!this.histories.has(roomId)) this.histories.set(roomId, new History());
    return this.histories.get(roomId);
  }

  /** Add stored messages of one room (from any source); returns the new ones, oldest first. */
  addMessages(roomId, messages) {
    const room = this.rooms.get(roomId);
    const added = this.history(roomId).merge(messages);
    for (const message of messages) {
      if (room && message.seq > (room.last_seq || 0)) room.last_seq = message.seq;
      if (message.sender === this.me && message.seq > (this.lastRead[roomId] || 0)) {
        // What the user wrote themself is read by definition.
        this.lastRead[roomId] = message.seq;
      }
    }
    return added;
  }

  unread(roomId) {
    const room = this.rooms.get(roomId);
    if (!room || !this.isMember(room)) return 0;
    return Math.max(0, (room.last_seq || 0) - (this.lastRead[roomId] || 0));
  }

  totalUnread() {
    let total = 0;
    for (const id of this.rooms.keys()) total += this.unread(id);
    return total;
  }

  /** The user has seen `roomId` up to `seq` (here or, later, on another device). */
  markReadUpTo(roomId, seq) {
    this.lastRead[roomId] = Math.max(this.lastRead[roomId] || 0, seq);
  }

  markRead(roomId) {
    const room = this.rooms.get(roomId);
    if (room) this.lastRead[roomId] = Math.max(this.lastRead[roomId] || 0, room.last_seq || 0);
  }

  setUsers(users) {
    this.users.clear();
    for (const user of users) this.users.set(user.username, { ...user });
  }

  setOnline(username, online) {
    const user = this.users.get(username) || { username };
    user.online = online;
    this.users.set(username, user);
  }

  people() {
    return [...this.users.values()].sort(
      (a, b) => Number(Boolean(b.online)) - Number(Boolean(a.online)) || a.username.localeCompare(b.username),
    );
  }

  /** Note that `user` is typing in `roomId` for the next few seconds. */
  setTyping(roomId, user, now = Date.now()) {
    if (!this.typing.has(roomId)) this.typing.set(roomId, new Map());
    this.typing.get(roomId).set(user, now + TYPING_SHOWN_MS);
  }

  /** A message from `user` ends their typing notice in that room. */
  stopTyping(roomId, user) {
    const map = this.typing.get(roomId);
    if (map) map.delete(user);
  }

  /** Who is typing in `roomId` right now. */
  typingIn(roomId, now = Date.now()) {
    const map = this.typing.get(roomId);
    if (!map) return [];
    return [...map.entries()].filter(([, until]) => until > now).map(([user]) => user);
  }

  /** True when `text` mentions the signed-in user as `@name`. */
  mentionsMe(text) {
    const escaped = this.me.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    // Not followed by more of a name: a name character other than `.`, or `.` and one.
    const name = usernameClass();
    return new RegExp(`(^|${beforeMention()})@${escaped}(?!(?!\\.)${name}|\\.${name})`, 'iu').test(text);
  }
}

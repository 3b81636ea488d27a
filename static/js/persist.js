/**
 * Everything the page keeps across reloads, in localStorage, as JSON, under keys named for the
 * signed-in user: the outbox (`chat.outbox.NAME`), the read markers (`chat.read.NAME`) and the
 * last room open (`chat.room.NAME`). No other module touches localStorage.
 *
 * Storage that is full or disabled is not fatal: the page works on and only forgets across
 * reloads.
 */

function get(key, fallback) {
  try {
    const text = localStorage.getItem(key);
    return text === null ? fallback : JSON.parse(text);
  } catch {
    return fallback;
  }
}

function set(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage full or disabled: only forgotten across reloads.
  }
}

export class Saved {
  constructor(username) {
    this.username = username;
  }

  key(kind) {
    return `chat.${kind}.${this.username}`;
  }

  /** room id -> the last seq the user has seen there. */
  readMarkers() {
    const markers = get(this.key('read'), {});
    return markers && typeof markers === 'object' && !Array.isArray(markers) ? markers : {};
  }

  saveReadMarkers(markers) {
    set(this.key('read'), markers);
  }

  lastRoom() {
    return get(this.key('room'), null);
  }

  saveLastRoom(roomId) {
    set(this.key('room'), roomId);
  }

  /** The saved outbox entries (of every tab of this user), oldest first. */
  outbox() {
    const list = get(this.key('outbox'), []);
    return Array.isArray(list) ? list : [];
  }

  /**
   * Save this page's outbox `entries`. Another tab of the same user saves to the same key, so
   * entries found there that this page never had are kept, unless this page settled them
   * (`settled`, a Set of client ids): a tab never erases a message another tab still owes.
   */
  saveOutbox(entries, settled) {
    const known = new Set(entries.map((entry) => entry.client_id));
    const others = this.outbox().filter(
      (entry) => entry && !known.has(entry.client_id) && !settled.has(entry.client_id),
    );
    set(this.key('outbox'), others.concat(entries));
  }
}

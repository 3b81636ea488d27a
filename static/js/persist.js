/**
 * Everything the page keeps across reloads, in localStorage, as JSON, under keys named for the
 * signed-in user: the outbox (`chat.outbox.NAME`), the last room open (`chat.room.NAME`) and the
 * composer's draft of each room (`chat.drafts.NAME`), and the snapshot shown when a reload finds the
 * server unreachable (`chat.snapshot.NAME`: the rooms, people and the open room's newest
 * messages); and, for the whole browser, who was signed in last with the server's limits
 * (`chat.last`), so that such a reload knows whose app to show. No other module touches
 * localStorage. (Read positions are kept on the server: controller.js.)
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

function remove(key) {
  try {
    localStorage.removeItem(key);
  } catch {
    // Disabled storage holds nothing to remove.
  }
}

/** `{user, limits}` of the last sign-in on this browser, or null (signed out since). */
export function lastSession() {
  const last = get('chat.last', null);
  return last && last.user && last.limits ? last : null;
}

export function saveLastSession(user, limits) {
  set('chat.last', { user, limits });
}

export function forgetLastSession() {
  remove('chat.last');
}

export class Saved {
  constructor(username) {
    this.username = username;
  }

  /** `{rooms, users, room, messages}` as the page last saved it, or null. */
  snapshot() {
    const snapshot = get(this.key('snapshot'), null);
    return snapshot && Array.isArray(snapshot.rooms) && Array.isArray(snapshot.messages) ? snapshot : null;
  }

  saveSnapshot(snapshot) {
    set(this.key('snapshot'), snapshot);
  }

  /** Signing out forgets what the page showed (the outbox stays until it is sent). */
  forgetSnapshot() {
    remove(this.key('snapshot'));
  }

  key(kind) {
    return `chat.${kind}.${this.username}`;
  }

  lastRoom() {
    return get(this.key('room'), null);
  }

  saveLastRoom(roomId) {
    set(this.key('room'), roomId);
  }

  /** The unsent text of each room: `{roomId: text}`. */
  drafts() {
    const drafts = get(this.key('drafts'), {});
    return drafts && typeof drafts === 'object' && !Array.isArray(drafts) ? drafts : {};
  }

  /**
   * Keep the draft of one room (`''` forgets it). Only that room's entry is written: another tab
   * of the same user keeps its drafts of other rooms.
   */
  saveDraft(roomId, text) {
    const drafts = this.drafts();
    if (text) drafts[roomId] = text;
    else delete drafts[roomId];
    set(this.key('drafts'), drafts);
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

/**
 * Files waiting to be uploaded, kept with their bytes in IndexedDB (database `chat-files`, store
 * `uploads`, keyed by `client_id`, each record naming its user), so that a file chosen while
 * offline survives a reload and goes out exactly once. localStorage cannot hold bytes. Every method
 * resolves even when IndexedDB is missing or refuses: the upload then only lives as long as the
 * page.
 */
export class FileShelf {
  constructor(username) {
    this.username = username;
    this.db = null;
  }

  open() {
    if (this.db) return this.db;
    this.db = new Promise((resolve) => {
      let request;
      try {
        request = indexedDB.open('chat-files', 1);
      } catch {
        resolve(null);
        return;
      }
      request.onupgradeneeded = () => request.result.createObjectStore('uploads', { keyPath: 'client_id' });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => resolve(null);
    });
    return this.db;
  }

  async run(mode, fn) {
    const db = await this.open();
    if (!db) return null;
    return new Promise((resolve) => {
      try {
        const tx = db.transaction('uploads', mode);
        const request = fn(tx.objectStore('uploads'));
        tx.oncomplete = () => resolve(request ? request.result : null);
        tx.onerror = () => resolve(null);
        tx.onabort = () => resolve(null);
      } catch {
        resolve(null);
      }
    });
  }

  /** This user's waiting files: `{client_id, room, name, type, size, ts, blob}`, oldest first. */
  async list() {
    const all = (await this.run('readonly', (store) => store.getAll())) || [];
    return all.filter((item) => item.user === this.username).sort((a, b) => (a.ts < b.ts ? -1 : 1));
  }

  /** Keep one (its `blob` with it). */
  put(item) {
    return this.run('readwrite', (store) => store.put({ ...item, user: this.username }));
  }

  /** Forget one: sent, or given up. */
  remove(clientId) {
    return this.run('readwrite', (store) => store.delete(clientId));
  }
}

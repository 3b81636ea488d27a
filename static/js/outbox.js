/**
 * The outbox: every message the user typed that the server has not yet confirmed.
 *
 * Pure bookkeeping, no I/O: delivery.js saves `entriesToSave()` through persist.js after every
 * change and feeds the saved list back through `load()` on start, so a reload resends the same
 * `client_id` and the server's de-duplication makes the message appear exactly once.
 */

/** A new client id: random, within the contract's 1 to 64 letters, digits, `_`, `-`. */
export function newClientId() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return `c-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

export class Outbox {
  constructor() {
    /** client_id -> {client_id, room, text, ts, failed: null | {code, message}} in typing order */
    this.entries = new Map();
  }

  /** Replace the contents with a saved list; damaged entries are dropped, not fatal. */
  load(list) {
    this.entries.clear();
    if (!Array.isArray(list)) return;
    for (const entry of list) {
      if (entry && typeof entry.client_id === 'string' && typeof entry.room === 'string') {
        this.entries.set(entry.client_id, { failed: null, ...entry });
      }
    }
  }

  /** The entries to save: only what the user typed and its fate, not this page's send times. */
  entriesToSave() {
    const keep = ({ client_id, room, text, ts, failed }) => ({ client_id, room, text, ts, failed });
    return [...this.entries.values()].map(keep);
  }

  /** Record a message the user just sent; returns its entry. */
  add(room, text) {
    const entry = { client_id: newClientId(), room, text, ts: new Date().toISOString(), failed: null };
    this.entries.set(entry.client_id, entry);
    return entry;
  }

  /** Forget an entry (confirmed by the server, or discarded by the user); true if it was there. */
  remove(clientId) {
    return this.entries.delete(clientId);
  }

  has(clientId) {
    return this.entries.has(clientId);
  }

  get(clientId) {
    return this.entries.get(clientId);
  }

  /** The server refused this message for good: keep it, with the reason, until retry or discard. */
  fail(clientId, error) {
    const entry = this.entries.get(clientId);
    if (entry) entry.failed = { code: error.code, message: error.message };
  }

  /** The user asked to try a refused message again. */
  unfail(clientId) {
    const entry = this.entries.get(clientId);
    if (entry) {
      entry.failed = null;
      entry.sentAt = 0; // goes out again at the next flush, not after the resend delay
    }
  }

  /** Entries still waiting to go out, oldest first. */
  pending() {
    return [...this.entries.values()].filter((entry) => !entry.failed);
  }

  /** All entries of one room (pending and refused), oldest first. */
  forRoom(roomId) {
    return [...this.entries.values()].filter((entry) => entry.room === roomId);
  }
}

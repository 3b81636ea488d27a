/**
 * The outbox: every message the user typed that the server has not yet confirmed, and every
 * change to a sent message (an edit, a reaction added or removed) not yet confirmed either.
 *
 * Entries of kind `message` (no `kind` field, as before) go out in typing order. Changes are
 * entries of kind `edit` ({seq, text}) or `react` ({seq, emoji, added}); each is the *wanted
 * state* of one thing, so a second edit of the same message, or toggling the same emoji again,
 * updates the entry instead of adding one, and its `version` tells delivery.js whether what the
 * server confirmed is still what the user wants. The server's PATCH with the same text and its
 * PUT/DELETE of a reaction are idempotent, so sending a change twice is harmless.
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
    /**
     * client_id -> {client_id, room, text, ts, failed: null | {code, message}, reply_to?} in
     * typing order, or a change: {kind: 'edit' | 'react', client_id, room, seq, text | emoji and
     * added, ts, failed}.
     */
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
    const keep = ({ kind, client_id, room, text, ts, failed, reply_to, seq, emoji, added }) =>
      kind ? { kind, client_id, room, seq, text, emoji, added, ts, failed } : { client_id, room, text, ts, failed, reply_to };
    return [...this.entries.values()].map(keep);
  }

  /** Record a message the user just sent (an answer to seq `replyTo`, or null); returns its entry. */
  add(room, text, replyTo = null) {
    const entry = { client_id: newClientId(), room, text, ts: new Date().toISOString(), failed: null };
    if (replyTo) entry.reply_to = replyTo;
    this.entries.set(entry.client_id, entry);
    return entry;
  }

  /**
   * Record a wanted change to message `seq` of `room`: `{kind: 'edit', text}` or
   * `{kind: 'react', emoji, added}`. An entry for the same thing is updated (and un-failed);
   * returns [entry, isNew].
   */
  change(room, seq, wanted) {
    const same = (entry) =>
      entry.kind === wanted.kind && entry.room === room && entry.seq === seq && (wanted.kind !== 'react' || entry.emoji === wanted.emoji);
    const found = [...this.entries.values()].find(same);
    if (found) {
      Object.assign(found, wanted, { failed: null, version: (found.version || 0) + 1 });
      return [found, false];
    }
    const entry = { client_id: newClientId(), room, seq, ...wanted, ts: new Date().toISOString(), failed: null, version: 0 };
    this.entries.set(entry.client_id, entry);
    return [entry, true];
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

  /** Messages still waiting to go out, oldest first. */
  pending() {
    return [...this.entries.values()].filter((entry) => !entry.kind && !entry.failed);
  }

  /** Changes still waiting to go out, oldest first. */
  pendingChanges() {
    return [...this.entries.values()].filter((entry) => entry.kind && !entry.failed);
  }

  /** All messages of one room (pending and refused), oldest first. */
  forRoom(roomId) {
    return [...this.entries.values()].filter((entry) => !entry.kind && entry.room === roomId);
  }

  /** The changes (pending and refused) to message `seq` of `roomId`, oldest first. */
  changesTo(roomId, seq) {
    return [...this.entries.values()].filter((entry) => entry.kind && entry.room === roomId && entry.seq === seq);
  }
}

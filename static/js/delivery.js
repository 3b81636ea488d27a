/**
 * Getting the outbox to the server exactly once: over the WebSocket (`send` frames, confirmed
 * by `ack`) while live, by POST while polling. Every entry keeps its `client_id` from the moment
 * the user pressed Enter, so sending it again (after an outage, a lost ack or a reload) only
 * gets the first stored copy back. The outbox is saved through persist.js after every change,
 * and every change is told to the controller (`onOutbox({kind, entry, clientId})`, kind `add`,
 * `change` or `remove`) so that the page redraws that one entry.
 *
 * Changes to sent messages (edits, reactions: the outbox's `edit` and `react` entries) go by HTTP
 * whichever way the page is connected, one at a time in the order they were made, and wait like
 * messages while there is no connection. A confirmed change is told to the controller
 * (`onChanged(message, sentAt)`); one the user changed again while it was on its way goes again.
 */

import { ApiError, api } from './api.js';
import { Outbox } from './outbox.js';

const RESEND_AFTER_MS = 10000; // an unacknowledged frame is sent again after this long
const RETRY_AFTER_MS = 3000; // a "not now" refusal is tried again after this long
// Error codes that mean "not now" rather than "never": the message stays pending.
const TRANSIENT_CODES = new Set(['backend_unavailable', 'rate_limited', 'internal_error', 'network']);

export class Delivery {
  /** `connection`: the Connection (mode, socket, timers, handlers); `saved`: persist.js's Saved. */
  constructor(username, connection, saved) {
    this.username = username;
    this.connection = connection;
    this.saved = saved;
    this.outbox = new Outbox();
    this.outbox.load(saved.outbox());
    this.flushing = false;
    this.changing = false; // a change request is on its way
    this.done = new Set(); // client_ids this page confirmed or discarded
  }

  /** Save the outbox and tell the controller what changed. */
  save(kind, entry, clientId = entry && entry.client_id) {
    this.saved.saveOutbox(this.outbox.entriesToSave(), this.done);
    this.connection.on.onOutbox({ kind, entry, clientId });
  }

  /** Take an entry out of the outbox for good; true if it was there. */
  settle(clientId) {
    this.done.add(clientId);
    return this.outbox.remove(clientId);
  }

  /** Queue a message the user typed (an answer to `replyTo`, or null); sent now if connected. */
  send(roomId, text, replyTo = null) {
    const entry = this.outbox.add(roomId, text, replyTo);
    this.save('add', entry);
    this.flush();
    return entry;
  }

  /** Queue a change to message `seq`: `{kind: 'edit', text}` or `{kind: 'react', emoji, added}`. */
  change(roomId, seq, wanted) {
    const [entry, isNew] = this.outbox.change(roomId, seq, wanted);
    this.save(isNew ? 'add' : 'change', entry);
    this.flushChanges();
    return entry;
  }

  retry(clientId) {
    this.outbox.unfail(clientId);
    this.save('change', this.outbox.get(clientId));
    this.flush();
  }

  discard(clientId) {
    const entry = this.outbox.get(clientId) || null;
    this.settle(clientId);
    this.save('remove', entry, clientId);
  }

  /** The server stored it (ack, POST answer): out of the outbox, into the history. */
  confirmed(message, clientId) {
    const id = clientId || message.client_id;
    if (this.settle(id)) this.save('remove', null, id);
    this.connection.on.onConfirmed(message);
  }

  /** Our own message came back as an event: that confirms it too, even if its ack was lost. */
  echoed(message) {
    if (message.sender === this.username && message.client_id && this.settle(message.client_id)) {
      this.save('remove', null, message.client_id);
    }
  }

  /** An `error` frame about one of our messages. */
  refused(clientId, error) {
    if (!this.outbox.has(clientId)) return;
    if (TRANSIENT_CODES.has(error.code)) {
      // Kept pending; a later flush sends it again with the same client_id.
      this.outbox.get(clientId).sentAt = 0;
      this.connection.later(RETRY_AFTER_MS, () => this.flush());
      return;
    }
    this.outbox.fail(clientId, error);
    this.save('change', this.outbox.get(clientId));
  }

  /** Send every pending message the current way, oldest first, and every pending change. */
  async flush() {
    const connection = this.connection;
    this.flushChanges();
    if (connection.mode === 'live') {
      this.flushFrames();
      return;
    }
    if (connection.mode !== 'polling' || this.flushing) return;
    this.flushing = true;
    try {
      // One at a time, so the messages are stored in the order they were typed. Each turn
      // confirms, refuses or stops at the oldest pending entry, so entries typed meanwhile are
      // picked up too.
      for (let entry = this.outbox.pending()[0]; entry; entry = this.outbox.pending()[0]) {
        if (connection.mode !== 'polling') return;
        try {
          const answer = await api.postMessage(entry.room, entry.text, entry.client_id, entry.reply_to);
          this.confirmed(answer.message, entry.client_id);
        } catch (error) {
          if (error instanceof ApiError && error.status === 401) {
            connection.on.onUnauthorized();
            return;
          }
          if (error instanceof ApiError && !error.transient) {
            this.outbox.fail(entry.client_id, error);
            this.save('change', entry);
            continue;
          }
          connection.later(RETRY_AFTER_MS, () => this.flush());
          return;
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Live: a `send` frame for each pending entry not sent on this socket in the last moments. */
  flushFrames() {
    const connection = this.connection;
    const now = Date.now();
    for (const entry of this.outbox.pending()) {
      const recent = entry.sentGeneration === connection.generation && now - (entry.sentAt || 0) < RESEND_AFTER_MS;
      if (recent) continue;
      const frame = { type: 'send', room: entry.room, text: entry.text, client_id: entry.client_id };
      if (entry.reply_to) frame.reply_to = entry.reply_to;
      if (!connection.sendFrame(frame)) return;
      entry.sentAt = now;
      entry.sentGeneration = connection.generation;
    }
  }

  /**
   * Send the pending changes by HTTP, one at a time, oldest first (live or polling alike). A
   * change is settled when the server confirmed the version the user still wants; a refusal
   * that may pass later waits and tries again; any other marks it failed with the reason.
   */
  async flushChanges() {
    const connection = this.connection;
    if (this.changing || !['live', 'polling'].includes(connection.mode)) return;
    this.changing = true;
    try {
      for (let entry = this.outbox.pendingChanges()[0]; entry; entry = this.outbox.pendingChanges()[0]) {
        if (!['live', 'polling'].includes(connection.mode)) return;
        const version = entry.version || 0;
        const sentAt = Date.now();
        let answer;
        try {
          answer = await sendChange(entry);
        } catch (error) {
          if (error instanceof ApiError && error.status === 401) {
            connection.on.onUnauthorized();
            return;
          }
          if (!this.outbox.has(entry.client_id)) continue; // discarded meanwhile
          if (error instanceof ApiError && !error.transient) {
            if ((entry.version || 0) !== version) continue; // changed meanwhile: try the new wish
            this.outbox.fail(entry.client_id, error);
            this.save('change', entry);
            continue;
          }
          connection.later(RETRY_AFTER_MS, () => this.flushChanges());
          return;
        }
        if (this.outbox.has(entry.client_id) && (entry.version || 0) === version) {
          this.settle(entry.client_id);
          this.save('remove', entry);
        }
        connection.on.onChanged(answer.message, sentAt);
      }
    } finally {
      this.changing = false;
    }
  }
}

/** One change's request: PATCH for an edit, PUT or DELETE of a reaction. */
function sendChange(entry) {
  if (entry.kind === 'edit') return api.editMessage(entry.room, entry.seq, entry.text);
  return entry.added ? api.react(entry.room, entry.seq, entry.emoji) : api.unreact(entry.room, entry.seq, entry.emoji);
}

/**
 * Getting the outbox to the server exactly once: over the WebSocket (`send` frames, confirmed
 * by `ack`) while live, by POST while polling. Every entry keeps its `client_id` from the moment
 * the user pressed Enter, so sending it again (after an outage, a lost ack or a reload) only
 * gets the first stored copy back. The outbox is saved through persist.js after every change,
 * and every change is told to the controller (`onOutbox({kind, entry, clientId})`, kind `add`,
 * `change` or `remove`) so that the page redraws that one entry.
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

  /** Queue a message the user typed; it is sent now if connected, else when connected. */
  send(roomId, text) {
    const entry = this.outbox.add(roomId, text);
    this.save('add', entry);
    this.flush();
    return entry;
  }

  retry(clientId) {
    this.outbox.unfail(clientId);
    this.save('change', this.outbox.get(clientId));
    this.flush();
  }

  discard(clientId) {
    this.settle(clientId);
    this.save('remove', null, clientId);
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

  /** Send every pending message the current way, oldest first. */
  async flush() {
    const connection = this.connection;
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
          const answer = await api.postMessage(entry.room, entry.text, entry.client_id);
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
      if (!connection.sendFrame({ type: 'send', room: entry.room, text: entry.text, client_id: entry.client_id })) {
        return;
      }
      entry.sentAt = now;
      entry.sentGeneration = connection.generation;
    }
  }
}

/**
 * The live connection: WebSocket when it can be had, long-polling when not, and the outbox.
 *
 * States (reported through `onStatus`): `connecting`, `live` (a WebSocket said hello),
 * `polling` (HTTP long-poll works) and `offline` (the last try failed; `retryAt` says when the
 * next one is). A socket that closes before its hello is a failed try whatever its close code;
 * three failed tries in a row switch to polling, which tries to upgrade back every minute.
 * Events from either way pass one `pos` filter, so nothing is handled twice or out of order.
 */

import { ApiError, api, backoffDelay } from './api.js';
import { Outbox } from './outbox.js';

const FAILED_TRIES_BEFORE_POLLING = 3;
const UPGRADE_EVERY_MS = 60000; // polling tries a WebSocket again this often
const BACKUP_CHECK_EVERY_MS = 60000; // while live, an HTTP catch-up this often
const HELLO_TIMEOUT_MS = 10000; // a socket silent this long after opening counts as failed
const RESEND_AFTER_MS = 10000; // an unacknowledged frame is sent again after this long
const LONG_POLL_SECONDS = 25;
// Error codes that mean "not now" rather than "never": the message stays pending.
const TRANSIENT_CODES = new Set(['backend_unavailable', 'rate_limited', 'internal_error', 'network']);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class Connection {
  /**
   * `handlers`: onEvent(event), onFrame(frame) for typing and presence, onConfirmed(message),
   * onStatus({state, retryAt}), onOutbox(), onUnauthorized().
   */
  constructor(username, handlers, { forcePolling = false } = {}) {
    this.username = username;
    this.on = handlers;
    this.forcePolling = forcePolling;
    this.storageKey = `chat.outbox.${username}`;
    this.outbox = new Outbox();
    this.outbox.load(localStorage.getItem(this.storageKey));
    this.pos = 0;
    this.mode = 'connecting';
    this.ws = null;
    this.generation = 0; // bumps on every socket opened; stale sockets' callbacks are ignored
    this.pollGeneration = 0;
    this.failures = 0;
    this.timers = new Set();
    this.pollAbort = null;
    this.stopped = false;
    this.flushing = false;
  }

  /** Begin at event cursor `pos` (from the start-up load). */
  start(pos) {
    this.pos = pos;
    if (this.forcePolling) this.startPolling();
    else this.openSocket(false);
  }

  /** Close everything for good (sign-out). */
  stop() {
    this.stopped = true;
    this.generation += 1;
    this.pollGeneration += 1;
    if (this.pollAbort) this.pollAbort.abort();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (this.ws) this.ws.close(1000);
    this.ws = null;
  }

  later(ms, fn) {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  status(state, retryAt = null) {
    this.on.onStatus({ state, retryAt });
  }

  /* ---- WebSocket ---- */

  openSocket(upgrading) {
    const generation = ++this.generation;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    let ws;
    let said = false;
    try {
      ws = new WebSocket(`${scheme}://${location.host}/ws?after=${this.pos}`);
    } catch {
      this.later(0, () => this.socketFailed(upgrading));
      return;
    }
    this.ws = ws;
    const helloTimer = this.later(HELLO_TIMEOUT_MS, () => {
      if (!said && generation === this.generation) ws.close();
    });
    ws.onmessage = (message) => {
      if (generation !== this.generation) return;
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      if (frame.type === 'hello') {
        said = true;
        clearTimeout(helloTimer);
        this.becameLive();
      } else if (said) {
        this.onFrame(frame);
      }
    };
    ws.onclose = () => {
      clearTimeout(helloTimer);
      if (generation !== this.generation) return;
      this.ws = null;
      if (said) {
        // A live socket dropped: try again at once (after a short jittered pause).
        this.failures = 0;
        this.mode = 'connecting';
        this.retrySocket();
      } else {
        this.socketFailed(upgrading);
      }
    };
  }

  becameLive() {
    this.failures = 0;
    this.mode = 'live';
    this.pollGeneration += 1; // ends a running poll loop
    if (this.pollAbort) this.pollAbort.abort();
    this.status('live');
    this.scheduleBackupCheck();
    this.flush();
  }

  socketFailed(upgrading) {
    if (upgrading) {
      this.later(UPGRADE_EVERY_MS, () => this.tryUpgrade());
      return;
    }
    this.failures += 1;
    if (this.failures >= FAILED_TRIES_BEFORE_POLLING) this.startPolling();
    else this.retrySocket();
  }

  retrySocket() {
    const delay = backoffDelay(this.failures);
    this.status('offline', Date.now() + delay);
    this.later(delay, () => {
      this.status('connecting');
      this.openSocket(false);
    });
  }

  tryUpgrade() {
    if (this.mode === 'polling' && !this.ws) this.openSocket(true);
  }

  scheduleBackupCheck() {
    const generation = this.generation;
    this.later(BACKUP_CHECK_EVERY_MS, async () => {
      if (this.mode !== 'live' || generation !== this.generation) return;
      try {
        await this.catchUp(0);
        this.flush();
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) this.on.onUnauthorized();
      }
      if (generation === this.generation) this.scheduleBackupCheck();
    });
  }

  onFrame(frame) {
    if (frame.type === 'message' || frame.type === 'room') this.handleEvent(frame);
    else if (frame.type === 'ack') this.confirmed(frame.message, frame.client_id);
    else if (frame.type === 'error' && frame.client_id) this.refused(frame.client_id, frame.error || {});
    else this.on.onFrame(frame);
  }

  /** Tell the others this user is typing in `roomId` (WebSocket only: HTTP has no such call). */
  typing(roomId) {
    if (this.mode === 'live' && this.ws) this.ws.send(JSON.stringify({ type: 'typing', room: roomId }));
  }

  /* ---- long-polling ---- */

  startPolling() {
    this.mode = 'polling';
    this.status('polling');
    this.pollLoop();
    if (!this.forcePolling) this.later(UPGRADE_EVERY_MS, () => this.tryUpgrade());
  }

  async pollLoop() {
    const generation = ++this.pollGeneration;
    let attempt = 0;
    let wait = 0; // the first poll answers at once, so the status and the outbox move quickly
    while (!this.stopped && generation === this.pollGeneration) {
      this.pollAbort = new AbortController();
      try {
        await this.catchUp(wait, this.pollAbort.signal);
        if (generation !== this.pollGeneration) return;
        if (attempt > 0 || wait === 0) {
          this.status('polling');
          this.flush();
        }
        attempt = 0;
        wait = LONG_POLL_SECONDS;
      } catch (error) {
        if (error.name === 'AbortError' || generation !== this.pollGeneration) return;
        if (error instanceof ApiError && error.status === 401) {
          this.on.onUnauthorized();
          return;
        }
        const delay = backoffDelay(attempt);
        attempt += 1;
        wait = 0;
        this.status('offline', Date.now() + delay);
        await sleep(delay);
      }
    }
  }

  /** Fetch and handle every event after `pos` (following `more`). */
  async catchUp(wait, signal) {
    for (;;) {
      const answer = await api.events(this.pos, wait, signal);
      for (const event of answer.events) this.handleEvent(event);
      if (answer.pos > this.pos) this.pos = answer.pos;
      if (!answer.more) return;
      wait = 0;
    }
  }

  handleEvent(event) {
    if (typeof event.pos !== 'number' || event.pos <= this.pos) return;
    this.pos = event.pos;
    if (event.type === 'message') {
      const message = event.message;
      // Our own message echoed back confirms it, even when its ack was lost.
      if (message.sender === this.username && message.client_id && this.outbox.remove(message.client_id)) {
        this.save();
      }
    }
    this.on.onEvent(event);
  }

  /* ---- outbox ---- */

  save() {
    try {
      localStorage.setItem(this.storageKey, this.outbox.serialize());
    } catch {
      // Storage full or disabled: the message still goes out, it just will not survive a reload.
    }
    this.on.onOutbox();
  }

  /** Queue a message the user typed; it is sent now if connected, else when connected. */
  send(roomId, text) {
    const entry = this.outbox.add(roomId, text);
    this.save();
    this.flush();
    return entry;
  }

  retry(clientId) {
    this.outbox.unfail(clientId);
    this.save();
    this.flush();
  }

  discard(clientId) {
    this.outbox.remove(clientId);
    this.save();
  }

  confirmed(message, clientId) {
    if (this.outbox.remove(clientId || message.client_id)) this.save();
    this.on.onConfirmed(message);
  }

  refused(clientId, error) {
    if (!this.outbox.has(clientId)) return;
    if (TRANSIENT_CODES.has(error.code)) {
      // Kept pending; a later flush sends it again with the same client_id.
      this.outbox.get(clientId).sentAt = 0;
      this.later(3000, () => this.flush());
      return;
    }
    this.outbox.fail(clientId, error);
    this.save();
  }

  /** Send every pending message the current way, oldest first. */
  async flush() {
    if (this.mode === 'live' && this.ws && this.ws.readyState === WebSocket.OPEN) {
      const now = Date.now();
      for (const entry of this.outbox.pending()) {
        if (entry.sentAt && entry.sentGeneration === this.generation && now - entry.sentAt < RESEND_AFTER_MS) {
          continue;
        }
        entry.sentAt = now;
        entry.sentGeneration = this.generation;
        this.ws.send(JSON.stringify({ type: 'send', room: entry.room, text: entry.text, client_id: entry.client_id }));
      }
      return;
    }
    if (this.mode !== 'polling' || this.flushing) return;
    this.flushing = true;
    try {
      // One at a time, so the messages are stored in the order they were typed.
      // Each turn confirms, refuses or stops at the oldest pending entry, so entries typed
      // meanwhile are picked up too.
      for (let entry = this.outbox.pending()[0]; entry; entry = this.outbox.pending()[0]) {
        if (this.mode !== 'polling') return;
        try {
          const answer = await api.postMessage(entry.room, entry.text, entry.client_id);
          this.confirmed(answer.message, entry.client_id);
        } catch (error) {
          if (error instanceof ApiError && error.status === 401) {
            this.on.onUnauthorized();
            return;
          }
          if (error instanceof ApiError && !error.transient) {
            this.outbox.fail(entry.client_id, error);
            this.save();
            continue;
          }
          this.later(3000, () => this.flush());
          return;
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}

/** The page's small saved settings (read markers, last room) in localStorage, as JSON. */
export const saved = {
  get(key, fallback) {
    try {
      const text = localStorage.getItem(key);
      return text === null ? fallback : JSON.parse(text);
    } catch {
      return fallback;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(key, JSON.stringify(value));
    } catch {
      // Storage full or disabled: the page works on, it only forgets this across reloads.
    }
  },
};

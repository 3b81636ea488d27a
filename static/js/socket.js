/**
 * The live connection: WebSocket when it can be had, long-polling when not, feeding events to
 * the page and carrying the outbox (delivery.js decides what to send).
 *
 * States (reported through `onStatus`): `connecting`, `live` (a WebSocket said hello),
 * `polling` (HTTP long-poll works) and `offline` (the last try failed; `retryAt` says when the
 * next one is; `retryNow` tries at once). Live or polling, `degraded` is true while the front
 * server says its backend cannot be reached (a `status` frame, or `"backend": "unavailable"` in a
 * poll's answer): the connection holds, but messages wait. A socket that closes before its hello
 * is a failed try whatever its close code: the page goes straight to polling, whose first answer
 * (at once) says whether the server is there at all, so a proxy that refuses WebSockets costs no
 * Offline time. Polling tries to upgrade back every minute, and at once when the server returns
 * from an outage. A live socket that drops is tried again once at once before polling takes over.
 *
 * Both ways are generic over event kinds: any frame or polled item with a numeric `pos` is an
 * event. It passes one `pos` filter (so nothing is handled twice or out of order), advances the
 * cursor and goes to `onEvent`, whatever its `type`; the controller decides what it means. The
 * other WebSocket frames are `hello`, the outbox's `ack` and `error`, the backend's `status`, and
 * the rest (typing, presence) go to `onFrame`.
 */

import { ApiError, api, backoffDelay, pause } from './api.js';
import { Delivery } from './delivery.js';
import { LONG_POLL_SECONDS, limits } from './rules.js';

const UPGRADE_EVERY_MS = 60000; // polling tries a WebSocket again this often
const BACKUP_CHECK_EVERY_MS = 60000; // while live, an HTTP catch-up this often
const HELLO_TIMEOUT_MS = 10000; // a socket silent this long after opening counts as failed
// A live socket that drops sooner than this after its hello is not retried at once (a server
// that greets and then closes would otherwise be asked again in a tight loop): polling takes over.
const STEADY_MS = 5000;


export class Connection {
  /**
   * `handlers`: onEvent(event) for every event, onFrame(frame) for typing and presence,
   * onConfirmed(message), onStatus({state, retryAt}), onOutbox(change), onUnauthorized().
   * `saved`: persist.js's Saved, where the outbox is kept.
   */
  constructor(username, handlers, { forcePolling = false, saved }) {
    this.username = username;
    this.on = handlers;
    this.forcePolling = forcePolling;
    this.pos = 0;
    this.mode = 'connecting';
    this.ws = null;
    this.generation = 0; // bumps on every socket opened; stale sockets' callbacks are ignored
    this.pollGeneration = 0;
    this.liveSince = 0;
    this.upgradeTimer = null;
    this.timers = new Set();
    this.pollAbort = null;
    this.stopped = false;
    this.backendOk = true; // what the front server last said of its backend
    this.delivery = new Delivery(username, this, saved);
  }

  /** Send one frame on the open socket; false when there is none. */
  sendFrame(frame) {
    if (this.mode !== 'live' || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
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
    const degraded = !this.backendOk && (state === 'live' || state === 'polling');
    this.on.onStatus({ state, retryAt, degraded });
  }

  /** The front server said whether its backend can be reached: the status follows a change. */
  setBackend(ok) {
    if (ok === this.backendOk) return;
    this.backendOk = ok;
    if (this.mode === 'live' || this.mode === 'polling') this.status(this.mode);
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
      if (said && Date.now() - this.liveSince > STEADY_MS) {
        // A live socket dropped: one more try at once; if that fails too, polling finds out
        // whether the server is there at all.
        this.mode = 'connecting';
        this.status('connecting');
        this.openSocket(false);
      } else {
        this.socketFailed(upgrading);
      }
    };
  }

  /**
   * A socket that never said hello (or dropped right after it): poll, which also tells whether
   * the server is reachable; while already polling (an upgrade try), the next try waits its minute.
   */
  socketFailed(upgrading) {
    if (upgrading && this.mode === 'polling') this.scheduleUpgrade();
    else this.startPolling();
  }

  becameLive() {
    this.mode = 'live';
    this.liveSince = Date.now();
    this.backendOk = true; // a status frame follows the hello when it is not
    this.pollGeneration += 1; // ends a running poll loop
    if (this.pollAbort) this.pollAbort.abort();
    this.status('live');
    this.scheduleBackupCheck();
    this.delivery.flush();
  }

  /** While polling, one WebSocket try a minute from now (the one pending try is replaced). */
  scheduleUpgrade() {
    clearTimeout(this.upgradeTimer);
    this.upgradeTimer = this.later(UPGRADE_EVERY_MS, () => this.tryUpgrade());
  }

  tryUpgrade() {
    clearTimeout(this.upgradeTimer);
    if (this.mode === 'polling' && !this.ws && !this.forcePolling) this.openSocket(true);
  }

  scheduleBackupCheck() {
    const generation = this.generation;
    this.later(BACKUP_CHECK_EVERY_MS, async () => {
      if (this.mode !== 'live' || generation !== this.generation) return;
      try {
        await this.catchUp(0);
        this.delivery.flush();
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) this.on.onUnauthorized();
        // The server cannot be reached over HTTP: the socket is most likely dead without
        // knowing it (a sleeping laptop, a dropped NAT entry). Closing it starts a reconnect.
        else if (error instanceof ApiError && error.status === 0 && this.ws) this.ws.close();
      }
      if (generation === this.generation) this.scheduleBackupCheck();
    });
  }

  onFrame(frame) {
    if (typeof frame.pos === 'number') this.handleEvent(frame);
    else if (frame.type === 'ack') this.delivery.confirmed(frame.message, frame.client_id);
    else if (frame.type === 'error' && frame.client_id) this.delivery.refused(frame.client_id, frame.error || {});
    else if (frame.type === 'status') this.setBackend(frame.backend !== 'unavailable');
    else this.on.onFrame(frame);
  }

  /** Tell the others this user is typing in `roomId`: a frame while Live, an HTTP call while Polling. */
  typing(roomId) {
    if (this.sendFrame({ type: 'typing', room: roomId })) return;
    if (this.mode === 'polling') api.typing(roomId).catch(() => {}); // decoration: a failure is no loss
  }


  /* ---- long-polling ---- */

  /** Poll from now on; the status says Polling once the first (immediate) answer comes. */
  startPolling() {
    this.mode = 'polling';
    this.pollLoop();
    if (!this.forcePolling) this.scheduleUpgrade();
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
          this.delivery.flush();
          // The server is back after an outage: the WebSocket may well be too, so try it now
          // rather than polling for up to a minute.
          if (attempt > 0) this.tryUpgrade();
        }
        attempt = 0;
        wait = Math.min(LONG_POLL_SECONDS, limits.long_poll_max_wait);
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
        await pause(delay);
      }
    }
  }

  /** Fetch and handle every event after `pos` (following `more`). */
  async catchUp(wait, signal) {
    for (;;) {
      const answer = await api.events(this.pos, wait, signal);
      this.setBackend(answer.backend !== 'unavailable');
      for (const event of answer.events) this.handleEvent(event);
      // Typing notices that woke a waiting poll (docs/api.md): the frames a WebSocket would carry.
      for (const frame of answer.signals || []) this.on.onFrame(frame);
      if (answer.pos > this.pos) this.pos = answer.pos;
      if (!answer.more) return;
      wait = 0;
    }
  }

  /** One event from either way: handled once, in `pos` order, whatever its type. */
  handleEvent(event) {
    if (typeof event.pos !== 'number' || event.pos <= this.pos) return;
    this.pos = event.pos;
    this.on.onEvent(event);
  }
}

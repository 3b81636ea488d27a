/**
 * The upload queue: files the user attached, sent one at a time, each exactly once.
 *
 * Like the message outbox (delivery.js), every upload gets its `client_id` when the user picks the
 * file, and keeps it through outages, retries and reloads: the server answers a repeated one with
 * the first message, so a file is never stored twice. The bytes wait in IndexedDB (persist.js's
 * FileShelf) until the server has them. Entries look like outbox entries, plus `file` ({name,
 * size}) and `progress` (0 to 1), so the message list shows them in the same place; every change
 * is told to the controller as `onChange({kind, entry, clientId})` and progress as
 * `onProgress(clientId, fraction)`.
 */

import { ApiError, uploadFile } from './api.js';
import { newClientId } from './outbox.js';
import { uploadMax } from './rules.js';

const RETRY_AFTER_MS = 3000; // a "not now" failure is tried again after this long

export class Uploads {
  /** `shelf`: persist.js's FileShelf; `handlers`: onChange, onProgress, onConfirmed, onUnauthorized. */
  constructor(shelf, handlers) {
    this.shelf = shelf;
    this.on = handlers;
    this.entries = new Map(); // client_id -> entry, in the order the files were attached
    this.online = false;
    this.sending = null; // {clientId, controller} of the upload in flight
    this.timer = null;
    this.stopped = false;
  }

  /** Take back the files a reload interrupted; they go out once connected. */
  async load() {
    for (const item of await this.shelf.list()) {
      if (this.stopped || this.entries.has(item.client_id)) continue;
      const entry = this.entry(item.client_id, item.room, item.blob, item.name, item.ts);
      this.entries.set(entry.client_id, entry);
      this.on.onChange({ kind: 'add', entry, clientId: entry.client_id });
    }
    this.flush();
  }

  entry(clientId, room, blob, name, ts) {
    return {
      client_id: clientId,
      room,
      text: '',
      ts,
      blob,
      file: { name, size: blob.size },
      progress: 0,
      failed: null,
    };
  }

  /** The user attached `files` (a FileList or array of File/Blob) in `roomId`. */
  add(roomId, files) {
    for (const file of files) {
      const name = file.name || `pasted-${new Date().toISOString().slice(0, 19).replace(/[:T]/g, '-')}.png`;
      const entry = this.entry(newClientId(), roomId, file, name, new Date().toISOString());
      this.entries.set(entry.client_id, entry);
      if (file.size > uploadMax()) {
        const mib = Math.floor(uploadMax() / (1024 * 1024));
        entry.failed = { code: 'payload_too_large', message: `Files can be at most ${mib} MiB.` };
      } else {
        this.shelf.put({ client_id: entry.client_id, room: roomId, name, type: file.type, size: file.size, ts: entry.ts, blob: file });
      }
      this.on.onChange({ kind: 'add', entry, clientId: entry.client_id });
    }
    this.flush();
  }

  forRoom(roomId) {
    return [...this.entries.values()].filter((entry) => entry.room === roomId);
  }

  has(clientId) {
    return this.entries.has(clientId);
  }

  /** The connection came (true) or went (false): waiting uploads go out once it is back. */
  setOnline(online) {
    this.online = online;
    if (online) this.flush();
  }

  retry(clientId) {
    const entry = this.entries.get(clientId);
    if (!entry || entry.failed?.code === 'payload_too_large') return;
    entry.failed = null;
    entry.progress = 0;
    this.on.onChange({ kind: 'change', entry, clientId });
    this.flush();
  }

  /** Cancel an upload in flight or waiting, or discard a failed one. */
  discard(clientId) {
    if (this.sending && this.sending.clientId === clientId) this.sending.controller.abort();
    this.forget(clientId);
  }

  forget(clientId) {
    this.entries.delete(clientId);
    this.shelf.remove(clientId);
    this.on.onChange({ kind: 'remove', entry: null, clientId });
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.sending) this.sending.controller.abort();
  }

  /** Send the oldest waiting upload, then the next, while connected. */
  async flush() {
    if (this.sending || !this.online || this.stopped) return;
    const entry = [...this.entries.values()].find((e) => !e.failed);
    if (!entry) return;
    const controller = new AbortController();
    this.sending = { clientId: entry.client_id, controller };
    try {
      const answer = await uploadFile(entry.room, entry.blob, entry.file.name, entry.client_id, {
        signal: controller.signal,
        onProgress: (fraction) => {
          entry.progress = fraction;
          this.on.onProgress(entry.client_id, fraction);
        },
      });
      this.sending = null;
      if (this.entries.has(entry.client_id)) this.forget(entry.client_id);
      this.on.onConfirmed(answer.message);
    } catch (error) {
      this.sending = null;
      if (error.name === 'AbortError' || this.stopped) return;
      if (error instanceof ApiError && error.status === 401) {
        this.on.onUnauthorized();
        return;
      }
      if (error instanceof ApiError && !error.transient) {
        entry.failed = { code: error.code, message: error.message };
        this.on.onChange({ kind: 'change', entry, clientId: entry.client_id });
      } else {
        entry.progress = 0;
        this.on.onChange({ kind: 'change', entry, clientId: entry.client_id });
        this.timer = setTimeout(() => this.flush(), error.retryAfter ? error.retryAfter * 1000 : RETRY_AFTER_MS);
        return;
      }
    }
    this.flush();
  }
}

/**
 * The HTTP side of the contract: one small function per API call, all through `request`.
 *
 * Every failure becomes an ApiError with the HTTP status (0 when the server could not be
 * reached) and the contract's error code, so callers decide on `code` and `transient`, never on
 * message text. Cookies carry the session, so nothing here holds a token.
 */

import { setLimits } from './rules.js';

/** An answer the server refused, or no answer at all (status 0). */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }

  /** True when trying the same request later may succeed (outage, overload, rate limit). */
  get transient() {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

async function request(method, path, { body, query, signal, withStatus = false, keepalive = false } = {}) {
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null) params.set(key, String(value));
    }
    const text = params.toString();
    if (text) url += `?${text}`;
  }
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' }, signal, keepalive };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw new ApiError(0, 'network', 'The server cannot be reached.');
  }
  if (response.status === 204) return withStatus ? { status: 204, data: null } : null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const info = (data && data.error) || {};
    const retry = Number(response.headers.get('Retry-After')) || null;
    throw new ApiError(
      response.status,
      info.code || `http_${response.status}`,
      info.message || `The server answered ${response.status}.`,
      retry,
    );
  }
  return withStatus ? { status: response.status, data } : data;
}

/** The delay before retry number `attempt` (0-based): 1 s, then doubling up to 30 s, with jitter. */
export function backoffDelay(attempt) {
  const ceiling = Math.min(30000, 1000 * 2 ** attempt);
  // Somewhere in the upper half, never under 1 s: clients that lost the same server spread out
  // instead of all knocking at once when it returns.
  return Math.max(1000, Math.round(ceiling / 2 + Math.random() * (ceiling / 2)));
}

const pauses = new Set(); // the wake-ups of every wait before a retry

/** Wait `ms` before a retry; `retryNow` ends every such wait at once. */
export function pause(ms) {
  return new Promise((resolve) => {
    const wake = () => {
      clearTimeout(timer);
      pauses.delete(wake);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    pauses.add(wake);
  });
}

/** The Offline pill's "Retry now": every wait before a retry (start-up loads, polling) ends now. */
export function retryNow() {
  for (const wake of [...pauses]) wake();
}

/**
 * Call `fn` until it succeeds or fails for good; transient failures wait with backoff.
 * `onWait(ms)` is told each wait so the page can show Offline with a countdown, `onOk()` once
 * a try succeeds after waiting.
 */
export async function withRetry(fn, { onWait = () => {}, onOk = () => {} } = {}) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const result = await fn();
      if (attempt > 0) onOk();
      return result;
    } catch (error) {
      if (!(error instanceof ApiError) || !error.transient) throw error;
      const delay = error.retryAfter ? error.retryAfter * 1000 : backoffDelay(attempt);
      onWait(delay);
      await pause(delay);
    }
  }
}

/**
 * Read the server's limits (`GET /api/limits`, no cookie needed) once, before anything checks a
 * name or a length, and hand them to rules.js; retried like the other start-up loads.
 */
export async function loadLimits(hooks) {
  setLimits(await withRetry(() => api.limits(), hooks));
}

/**
 * Upload one file (multipart: `file`, `client_id`) with progress: XMLHttpRequest, since fetch
 * reports no upload progress. `onProgress(fraction)` is told as the bytes go; `signal` aborts
 * (the promise then rejects with an AbortError). Resolves to the answer (`{message}`).
 */
export function uploadFile(roomId, blob, name, clientId, { onProgress = () => {}, signal } = {}) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append('client_id', clientId);
    form.append('file', blob, name);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/rooms/${encodeURIComponent(roomId)}/files`);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300 && data) {
        resolve(data);
        return;
      }
      const info = (data && data.error) || {};
      const retry = Number(xhr.getResponseHeader('Retry-After')) || null;
      reject(
        new ApiError(
          xhr.status,
          info.code || `http_${xhr.status}`,
          info.message || `The server answered ${xhr.status}.`,
          retry,
        ),
      );
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'The server cannot be reached.'));
    xhr.onabort = () => reject(new DOMException('The upload was cancelled.', 'AbortError'));
    if (signal) {
      if (signal.aborted) {
        reject(new DOMException('The upload was cancelled.', 'AbortError'));
        return;
      }
      signal.addEventListener('abort', () => xhr.abort(), { once: true });
    }
    xhr.send(form);
  });
}

/** The address of message `seq` of room `id`. */
function messagePath(id, seq) {
  return `/api/rooms/${encodeURIComponent(id)}/messages/${Number(seq)}`;
}

export const api = {
  limits: () => request('GET', '/api/limits'),
  getSession: () => request('GET', '/api/session'),
  /**
   * `{status, data}`: 201 when the name was new and is now registered, 200 when signed in. Without
   * `create` a name nobody has is not registered: 404 not_found (ours, docs/api.md).
   */
  signIn: (username, password, create) =>
    request('POST', '/api/session', {
      body: create ? { username, password } : { username, password, create: false },
      withStatus: true,
    }),
  signOut: () => request('DELETE', '/api/session'),
  users: () => request('GET', '/api/users'),
  rooms: () => request('GET', '/api/rooms'),
  room: (id) => request('GET', `/api/rooms/${encodeURIComponent(id)}`),
  createRoom: (name, visibility, members) =>
    request('POST', '/api/rooms', { body: { name, visibility, members } }),
  addMember: (id, username) =>
    request('POST', `/api/rooms/${encodeURIComponent(id)}/members`, { body: { username } }),
  leave: (id, username) =>
    request('DELETE', `/api/rooms/${encodeURIComponent(id)}/members/${encodeURIComponent(username)}`),
  openDm: (username) => request('POST', '/api/dms', { body: { username } }),
  // keepalive: a position sent as the page is closed or reloaded still reaches the server.
  markRead: (id, seq) => request('PUT', `/api/rooms/${encodeURIComponent(id)}/read`, { body: { seq }, keepalive: true }),
  messages: (id, { after, before, limit } = {}) =>
    request('GET', `/api/rooms/${encodeURIComponent(id)}/messages`, { query: { after, before, limit } }),
  postMessage: (id, text, clientId, replyTo = null) =>
    request('POST', `/api/rooms/${encodeURIComponent(id)}/messages`, {
      body: replyTo ? { text, client_id: clientId, reply_to: replyTo } : { text, client_id: clientId },
    }),
  message: (id, seq) => request('GET', messagePath(id, seq)),
  editMessage: (id, seq, text) => request('PATCH', messagePath(id, seq), { body: { text } }),
  deleteMessage: (id, seq) => request('DELETE', messagePath(id, seq)),
  react: (id, seq, emoji) => request('PUT', `${messagePath(id, seq)}/reactions/${encodeURIComponent(emoji)}`),
  unreact: (id, seq, emoji) => request('DELETE', `${messagePath(id, seq)}/reactions/${encodeURIComponent(emoji)}`),
  search: (q, { room, before, limit } = {}) => request('GET', '/api/search', { query: { q, room, before, limit } }),
  events: (after, wait, signal) => request('GET', '/api/events', { query: { after, wait }, signal }),
  /** Ours (docs/api.md): a typing notice for pages that poll. */
  typing: (id) => request('POST', `/api/rooms/${encodeURIComponent(id)}/typing`),
};

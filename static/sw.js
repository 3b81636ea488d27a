/**
 * The service worker: the app shell (index.html, the stylesheet, the modules and the vendored
 * libraries) kept in a cache, so that a reload while the front server is down still shows the app
 * and its outbox. The front server puts `SHELL` in front of this file when it serves `/sw.js`:
 * `{version, files}`, the shell's paths and a hash of their contents.
 *
 * Network first: while the server answers, every file comes from it (so a new version shows at
 * once); only a request that fails gets the cached copy. A new version changes `SHELL.version`,
 * so the browser installs this worker again, which fills a new cache and deletes the old ones.
 * Nothing else is ever cached: not `/api/`, not `/ws`, not uploads.
 */

/* global SHELL */
const CACHE = `chat-shell-${SHELL.version}`;
const SHELL_FILES = new Set(SHELL.files);

// The API goes straight to the network, without waking this worker: a request sent as the page
// closes (the read positions, with keepalive) is dropped by Chromium when it must first pass
// through a worker's fetch event. Browsers without static routing ask the worker, which lets it by.
const API_ROUTE = { condition: { urlPattern: '/api/*' }, source: 'network' };

self.addEventListener('install', (event) => {
  const routed = event.addRoutes ? event.addRoutes(API_ROUTE) : null;
  const cached = caches.open(CACHE).then((cache) => cache.addAll(SHELL.files));
  event.waitUntil(Promise.all([routed, cached]).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((key) => key.startsWith('chat-shell-') && key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  // The page itself (at any query, such as ?transport=polling) is the shell's index.
  const path = request.mode === 'navigate' && url.pathname === '/' ? '/' : url.pathname;
  if (!SHELL_FILES.has(path)) return; // the API, the WebSocket, files: always the network's
  event.respondWith(
    fetch(request).catch(async () => {
      const cached = await caches.match(path, { cacheName: CACHE });
      if (cached) return cached;
      throw new TypeError('offline, and not in the cache');
    }),
  );
});

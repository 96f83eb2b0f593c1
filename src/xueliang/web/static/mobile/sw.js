// Service worker of the phone app (served at /sw.js, registered with scope /m by mobile.js).
//   /static/...   cache first (the app shell), refreshed in the background so updates land on the next start
//   /api/...      network first, the last answer as the offline fallback (deleted on logout by api.js);
//                 live-video URLs and anything carrying a token are never cached
//   pages         network; offline -> the cached /m/offline page
//   /m/grid       network first, the last copy (kept with the API answers, so logout deletes it) offline:
//                 the grid worker's queue (IndexedDB) must be reachable with no signal
const SHELL_CACHE = "xl-shell-v6";
const API_CACHE = "xl-api";
const SHELL = [
  "/m/offline",
  "/manifest.webmanifest",
  "/static/css/base.css",
  "/static/css/mobile.css",
  "/static/css/alarms.css",
  "/static/js/alarm-client.js",
  "/static/js/alarm-mobile.js",
  "/static/js/api.js",
  "/static/js/basemap.js",
  "/static/js/dom.js",
  "/static/js/i18n.js",
  "/static/js/live.js",
  "/static/js/mobile.js",
  "/static/js/player.js",
  "/static/css/grid.css",
  "/static/js/grid/errors.js",
  "/static/js/grid/gridmap.js",
  "/static/js/grid/mobile.js",
  "/static/js/grid/queue.js",
  "/static/vendor/leaflet/leaflet.css",
  "/static/vendor/leaflet/leaflet.js",
  "/static/img/logo.svg",
  "/static/mobile/icon.svg",
  "/static/mobile/icon-maskable.svg",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name !== SHELL_CACHE && name !== API_CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

function offlineJson() {
  return new Response(JSON.stringify({ code: "network", message: "offline" }), {
    status: 503, headers: { "Content-Type": "application/json" },
  });
}

async function networkFirst(request) {
  const cache = await caches.open(API_CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch {
    return (await cache.match(request)) || offlineJson();
  }
}

async function cacheFirst(event) {
  const cache = await caches.open(SHELL_CACHE);
  const cached = await cache.match(event.request);
  const refresh = fetch(event.request).then(async (response) => {
    if (response.ok) await cache.put(event.request, response.clone());
    return response;
  });
  if (cached) {
    event.waitUntil(refresh.catch(() => undefined));
    return cached;
  }
  return refresh;
}

async function cachedPage(request) {
  const cache = await caches.open(API_CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && !response.redirected) await cache.put(request, response.clone());
    return response;
  } catch {
    return (await cache.match(request, { ignoreSearch: true })) || (await caches.match("/m/offline")) || Response.error();
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/")) {
    if (url.pathname.includes("/live/") || url.searchParams.has("token")) return;
    event.respondWith(networkFirst(request));
  } else if (url.pathname.startsWith("/static/") || url.pathname === "/manifest.webmanifest") {
    event.respondWith(cacheFirst(event));
  } else if (request.mode === "navigate" && url.pathname === "/m/grid") {
    event.respondWith(cachedPage(request));
  } else if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(async () => (await caches.match("/m/offline")) || Response.error()));
  }
});

// The phone's outbox for grid work (IndexedDB "xl-grid", store "outbox"): every check-in, visit and
// incident report is first stored here with a UUID made on the phone and its original time and position,
// then sent through POST /api/v1/grid/sync when the network allows. The server is idempotent by UUID, so a
// resend (an answer lost on the way back) never makes a second record. An incident's photo is uploaded
// after the incident exists (the sync answer names its id). Items belong to the user who made them.

import { refusalText } from "./errors.js";

const DB_NAME = "xl-grid";
const STORE = "outbox";

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      const store = req.result.createObjectStore(STORE, { keyPath: "uuid" });
      store.createIndex("user", "user_id");
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function tx(mode, work) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const transaction = db.transaction(STORE, mode);
      const result = work(transaction.objectStore(STORE));
      transaction.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
  } finally {
    db.close();
  }
}

export function newUuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((n) => n.toString(16).padStart(2, "0")).join("");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** Everything still waiting for `userId`, oldest first. */
export async function waiting(userId) {
  const all = (await tx("readonly", (s) => s.index("user").getAll(userId))) || [];
  return all.sort((a, b) => a.created - b.created);
}

export function put(item) { return tx("readwrite", (s) => s.put(item)); }
export function remove(uuid) { return tx("readwrite", (s) => s.delete(uuid)); }

/**
 * Queues one record: `body` is the sync item ({type, uuid, at, ...}); `photo` an optional Blob for an
 * incident. Stored before anything is sent.
 */
export async function enqueue(userId, body, photo = null) {
  const item = { uuid: body.uuid, user_id: userId, type: body.type, body, photo, photo_type: photo ? photo.type : "",
    state: "waiting", incident_id: null, error: "", created: Date.now() };
  await put(item);
  return item;
}

function csrf() { return (window.XL && window.XL.csrf) || ""; }

class Offline extends Error {}

async function post(url, init) {
  let response;
  try {
    response = await fetch(url, { credentials: "same-origin", ...init,
      headers: { Accept: "application/json", "X-CSRF-Token": csrf(), ...(init.headers || {}) } });
  } catch (cause) {
    throw new Offline(String(cause));
  }
  let data = null;
  try { data = await response.json(); } catch { data = null; }
  return { status: response.status, ok: response.ok, data };
}

let running = null;

/**
 * Sends what is waiting for `userId`. Resolves to {sent, failed, offline}: records the server stored
 * (or already had), records it refused (kept, marked with its message), and whether the network failed.
 * One run at a time: a second call while one runs waits for it.
 */
export function flush(userId) {
  if (!running) running = doFlush(userId).finally(() => { running = null; });
  return running;
}

async function doFlush(userId) {
  const out = { sent: 0, failed: 0, offline: false, unauthorized: false };
  const items = await waiting(userId);
  const records = items.filter((i) => i.state === "waiting");
  try {
    if (records.length) {
      const r = await post("/api/v1/grid/sync", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ items: records.map((i) => i.body) }) });
      if (r.status === 401 || r.status === 403) { out.unauthorized = true; return out; }
      if (!r.ok) { out.offline = true; return out; }
      const byUuid = new Map(records.map((i) => [i.uuid, i]));
      for (const res of r.data.results) {
        const item = byUuid.get(res.uuid);
        if (!item) continue;
        if (res.status === "error") {
          item.state = "error";
          item.error = refusalText(res);
          await put(item);
          out.failed += 1;
        } else if (item.photo) {
          item.state = "photo";
          item.incident_id = res.id;
          await put(item);
        } else {
          await remove(item.uuid);
          out.sent += 1;
        }
      }
    }
    for (const item of await waiting(userId)) {
      if (item.state !== "photo") continue;
      const form = new FormData();
      form.append("file", new File([item.photo], `photo-${item.uuid}`, { type: item.photo_type || "image/jpeg" }));
      const r = await post(`/api/v1/grid/incidents/${item.incident_id}/photos`, { method: "POST", body: form });
      if (r.ok) {
        await remove(item.uuid);
        out.sent += 1;
      } else if (r.status >= 400 && r.status < 500 && r.status !== 401 && r.status !== 403) {
        // The photo itself was refused (too large, not an image): the incident is stored; keep the note.
        item.state = "error";
        item.error = refusalText(r.data) || String(r.status);
        item.photo = null;
        await put(item);
        out.failed += 1;
      } else {
        out.offline = true;
      }
    }
  } catch (err) {
    if (err instanceof Offline) out.offline = true;
    else throw err;
  }
  return out;
}

// The grid worker's phone app (/m/grid): today's route on the map and its checkpoints, today's visit
// list, check-ins (GPS fix or the checkpoint's QR code), visits and incident reports. Every record goes to
// the IndexedDB outbox first (queue.js) and is sent when the network allows; the page always says what
// is still waiting. The service worker (/sw.js) keeps this page and its scripts for offline starts.

import { api, me, toast, wireCommon } from "../api.js";
import { $, h } from "../dom.js";
import { formatDateTime, t } from "../i18n.js";
import "./errors.js"; // the grid's refusals in the reader's language, in api()'s toasts
import { createGridMap } from "./gridmap.js";
import { enqueue, flush, newUuid, remove, waiting } from "./queue.js";

wireCommon();
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js", { scope: "/m" }).catch((err) => console.warn("service worker", err));
}

/** Keeps this page and today's data where the service worker looks when there is no network (the
 * first visit is not yet under its control); the cache is the API cache, which logout deletes. */
async function keepForOffline() {
  if (!("caches" in window) || !navigator.onLine) return;
  try {
    const cache = await caches.open("xl-api");
    await cache.addAll(["/m/grid", "/api/v1/grid/today", "/api/v1/regions/map"]);
    document.documentElement.dataset.gridOffline = "ready";
  } catch (err) {
    console.warn("offline copy not kept", err);
  }
}

const userId = me ? me.id : 0;
const state = { today: null, outbox: [], position: null };
const map = createGridMap($("#g-map"));

const CATEGORY = () => ({
  public_safety: t("Public safety"), road_traffic: t("Road and traffic"), fire_hazard: t("Fire hazard"),
  dispute: t("Dispute"), environment: t("Environment"), infrastructure: t("Infrastructure"),
  help_needed: t("Help needed"), other: t("Other"),
});
const KIND = () => ({ child: t("Left-behind child"), elderly: t("Left-behind elderly") });

/** The phone's position: {lat, lon, accuracy_m, at}; rejects when there is no fix. */
function locate(timeout = 15000) {
  return new Promise((resolve, reject) => {
    if (!navigator.geolocation) { reject(new Error(t("This phone gives no location."))); return; }
    navigator.geolocation.getCurrentPosition((pos) => {
      const out = { lat: pos.coords.latitude, lon: pos.coords.longitude,
        accuracy_m: Math.round(pos.coords.accuracy * 10) / 10, at: new Date(pos.timestamp || Date.now()).toISOString() };
      state.position = out;
      map.setMe(out.lon, out.lat, out.accuracy_m);
      resolve(out);
    }, (err) => reject(new Error(err.message || t("No location fix."))),
    { enableHighAccuracy: true, timeout, maximumAge: 30000 });
  });
}

async function maybeLocate() {
  try { return await locate(8000); } catch { return null; }
}

// --- outbox -----------------------------------------------------------------------------------------

function describeItem(item) {
  const b = item.body;
  if (item.type === "checkin") {
    const cp = checkpoints().find((c) => c.id === b.checkpoint_id);
    return t("Check-in: {name}", { name: cp ? cp.name : `#${b.checkpoint_id}` });
  }
  if (item.type === "visit") {
    const v = visits().find((x) => x.person.id === b.person_id);
    return t("Visit: {name}", { name: v ? v.person.name : `#${b.person_id}` });
  }
  return t("Incident: {category}", { category: CATEGORY()[b.category] || b.category });
}

async function renderOutbox() {
  state.outbox = await waiting(userId);
  const pending = state.outbox.filter((i) => i.state !== "error");
  const refused = state.outbox.filter((i) => i.state === "error");
  const box = $("#g-outbox");
  box.dataset.count = String(pending.length);
  box.classList.toggle("has-pending", pending.length > 0);
  $("#g-pending").textContent = pending.length
    ? t("{n} waiting to be sent", { n: pending.length }) : t("Nothing waiting to be sent");
  $("#g-send").hidden = pending.length === 0;
  $("#g-outbox-list").replaceChildren(...state.outbox.map((item) => h("li", {
    class: `g-out g-out-${item.state}`, dataset: { uuid: item.uuid, type: item.type } },
  h("span", { class: "g-out-what" }, describeItem(item)),
  h("span", { class: "g-out-when" }, formatDateTime(item.body.at)),
  item.state === "photo" ? h("span", { class: "g-out-state" }, t("photo waiting")) : null,
  item.state === "error" ? h("span", { class: "g-out-error" }, t("Refused: {reason}", { reason: item.error })) : null,
  item.state === "error" ? h("button", { type: "button", class: "btn btn-sm", onclick: async () => {
    await remove(item.uuid); await renderOutbox();
  } }, t("Remove")) : null)));
  if (refused.length) box.classList.add("has-refused");
  if (state.today) { renderRoute(); renderVisits(); }
}

function setNet() {
  const net = $("#g-net");
  net.dataset.online = String(navigator.onLine);
  net.textContent = navigator.onLine ? t("Connected") : t("No network");
}

let sending = false;
async function trySend({ loud = false } = {}) {
  setNet();
  if (sending) return;
  if (!navigator.onLine && !loud) { await renderOutbox(); return; }
  sending = true;
  try {
    const before = (await waiting(userId)).length;
    if (!before) return;
    const out = await flush(userId);
    if (out.unauthorized) toast(t("Your session has ended. Please log in again."), "error");
    else if (out.offline && loud) toast(t("No network: the records stay on this phone and are sent later."), "info");
    if (out.failed) toast(t("{n} records were refused by the server; see the list.", { n: out.failed }), "error", 8000);
    if (out.sent) {
      toast(t("{n} records sent.", { n: out.sent }), "ok");
      await loadToday();
      loadReports();
    }
  } finally {
    sending = false;
    await renderOutbox();
  }
}

async function record(body, photo = null) {
  await enqueue(userId, body, photo);
  await renderOutbox();
  toast(navigator.onLine ? t("Saved; sending…") : t("Saved on this phone; it is sent when the network returns."), "info");
  trySend();
}

window.addEventListener("online", () => trySend());
window.addEventListener("offline", setNet);
setInterval(() => { if (state.outbox.some((i) => i.state !== "error")) trySend(); }, 20000);
$("#g-send").addEventListener("click", () => trySend({ loud: true }));

// --- route and checkpoints --------------------------------------------------------------------------

function routes() { return (state.today && state.today.routes) || []; }
function visits() { return (state.today && state.today.visits) || []; }
function checkpoints() { return routes().flatMap((r) => r.route.checkpoints); }

function queuedCheckpoints() {
  return new Set(state.outbox.filter((i) => i.type === "checkin" && i.state !== "error").map((i) => i.body.checkpoint_id));
}

async function checkIn(cp) {
  let pos;
  try {
    pos = await locate();
  } catch (err) {
    toast(t("No location fix: {reason}. Scan the checkpoint's QR code instead.", { reason: err.message }), "error", 8000);
    return;
  }
  await record({ type: "checkin", uuid: newUuid(), checkpoint_id: cp.id, at: pos.at, lat: pos.lat, lon: pos.lon,
    accuracy_m: pos.accuracy_m });
}

function renderRoute() {
  const list = $("#g-checkpoints");
  if (!state.today) return;
  const rs = routes();
  if (!rs.length) {
    list.replaceChildren(h("li", { class: "empty" }, t("No route today.")));
    $("#g-progress").textContent = "";
    return;
  }
  const queued = queuedCheckpoints();
  $("#g-route-name").textContent = rs.map((r) => `${r.route.name} · ${r.route.window_start}–${r.route.window_end}`).join(" / ");
  const done = checkpoints().filter((c) => c.done).length;
  $("#g-progress").textContent = `${done}/${checkpoints().length}`;
  map.setLine(rs[0].route.line);
  map.setPoints(checkpoints().map((c) => ({ lon: c.lon, lat: c.lat, label: String(c.seq), title: c.name,
    cls: c.done ? "done" : queued.has(c.id) ? "queued" : "", dataset: { checkpointId: c.id } })));
  list.replaceChildren(...checkpoints().map((c) => {
    const status = c.done ? t("Done") : queued.has(c.id) ? t("Waiting to send") : t("Not yet");
    return h("li", { class: `g-cp${c.done ? " done" : ""}${queued.has(c.id) ? " queued" : ""}`, dataset: { checkpointId: c.id } },
      h("span", { class: "g-cp-seq" }, String(c.seq)),
      h("span", { class: "g-cp-main" }, h("strong", {}, c.name), h("small", {}, status)),
      c.done ? null : h("button", { type: "button", class: "btn btn-primary g-checkin", onclick: () => checkIn(c) },
        t("Check in")));
  }));
}

$("#g-qr-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("#g-qr").value.trim();
  const m = /^xl-cp:(\d+):[0-9a-f]+$/.exec(text);
  if (!m) { toast(t("This is not a checkpoint code."), "error"); return; }
  const pos = await maybeLocate();
  const body = { type: "checkin", uuid: newUuid(), checkpoint_id: Number(m[1]), qr: text,
    at: pos ? pos.at : new Date().toISOString() };
  if (pos) Object.assign(body, { lat: pos.lat, lon: pos.lon, accuracy_m: pos.accuracy_m });
  $("#g-qr").value = "";
  await record(body);
});

// Camera scanning where the browser can read QR codes itself (no library needed).
if ("BarcodeDetector" in window && navigator.mediaDevices) {
  $("#g-scan").hidden = false;
  $("#g-scan").addEventListener("click", async () => {
    const video = $("#g-scan-video");
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch {
      toast(t("The camera cannot be opened; type the code instead."), "error");
      return;
    }
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    const stop = () => { stream.getTracks().forEach((tr) => tr.stop()); video.hidden = true; };
    const until = Date.now() + 30000;
    const look = async () => {
      const codes = await detector.detect(video).catch(() => []);
      if (codes.length) { stop(); $("#g-qr").value = codes[0].rawValue; $("#g-qr-form").requestSubmit(); return; }
      if (Date.now() < until) requestAnimationFrame(look); else stop();
    };
    look();
  });
}

// --- visits -----------------------------------------------------------------------------------------

let visiting = null;

function renderVisits() {
  const list = $("#g-visits");
  const vs = visits();
  const queued = new Set(state.outbox.filter((i) => i.type === "visit").map((i) => i.body.person_id));
  $("#g-visits-count").textContent = `${vs.filter((v) => v.visited_today).length}/${vs.length}`;
  if (!vs.length) { list.replaceChildren(h("li", { class: "empty" }, t("No visits today."))); return; }
  list.replaceChildren(...vs.map((v) => {
    const p = v.person;
    const flags = p.flagged || [];
    return h("li", { class: `g-visit${v.visited_today ? " done" : ""}`, dataset: { personId: p.id } },
      h("div", { class: "g-visit-main" },
        h("strong", {}, p.name), h("span", { class: "badge" }, KIND()[p.kind] || p.kind),
        h("small", {}, p.address || ""),
        h("small", {}, p.last_visit_at ? t("Last visit: {at}", { at: formatDateTime(p.last_visit_at) }) : t("Never visited")),
        flags.length ? h("span", { class: "g-flags" }, ...flags.map((f) => h("span", { class: "g-flag" }, f))) : null),
      v.visited_today ? h("span", { class: "g-done" }, t("Visited"))
        : queued.has(p.id) ? h("span", { class: "g-waiting" }, t("Waiting to send"))
          : h("button", { type: "button", class: "btn btn-primary g-visit-btn", onclick: () => openVisit(v) }, t("Record visit")));
  }));
}

function openVisit(v) {
  visiting = v;
  $("#g-visit-form").reset();
  $("#g-visit-who").textContent = `${v.person.name} · ${v.person.address || ""}`;
  $("#g-visit-dialog").showModal();
}

$("#g-visit-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  const v = visiting;
  $("#g-visit-dialog").close();
  if (!v) return;
  const at = new Date().toISOString();
  const pos = await maybeLocate();
  const needs = String(form.get("needs") || "").split("\n").map((s) => s.trim()).filter(Boolean).slice(0, 20);
  const body = { type: "visit", uuid: newUuid(), person_id: v.person.id, at, outcome: form.get("outcome"),
    wellbeing: form.get("wellbeing") || null, note: String(form.get("note") || ""), needs };
  if (pos) Object.assign(body, { lat: pos.lat, lon: pos.lon });
  await record(body);
  renderVisits();
});

// --- incidents --------------------------------------------------------------------------------------

$("#g-report").addEventListener("click", () => { $("#g-incident-form").reset(); $("#g-incident-dialog").showModal(); });
$("#g-incident-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  const file = $("#g-photo").files[0] || null;
  const useGps = $("#g-use-gps").checked;
  $("#g-incident-dialog").close();
  if (file && file.size > 10 * 1024 * 1024) { toast(t("The photo is larger than 10 MB."), "error"); return; }
  const at = new Date().toISOString();
  const pos = useGps ? await maybeLocate() : null;
  const body = { type: "incident", uuid: newUuid(), category: form.get("category"), text: String(form.get("text") || ""), at };
  if (pos) Object.assign(body, { lat: pos.lat, lon: pos.lon });
  await record(body, file);
});

for (const btn of document.querySelectorAll("dialog [data-close]")) {
  btn.addEventListener("click", () => btn.closest("dialog").close());
}

// --- my reports: their state until checked (上报→分派→处理→核查), refreshed when the socket says so ---

const STATE = () => ({ reported: t("Reported"), assigned: t("Assigned"), in_hand: t("In hand"), resolved: t("Resolved"),
  checked: t("Checked") });

async function loadReports() {
  let rows;
  try {
    rows = await api("/grid/incidents", { quiet: true });
  } catch {
    if ($("#g-reports .empty")) $("#g-reports").replaceChildren(h("li", { class: "empty" }, t("Shown again when the network returns.")));
    return;
  }
  const mine = rows.filter((i) => i.reporter_id === userId).sort((a, b) => b.reported_at.localeCompare(a.reported_at)).slice(0, 10);
  $("#g-reports").replaceChildren(...(mine.length ? mine.map((i) => h("li", { class: "g-visit", dataset: { incidentId: i.id } },
    h("div", { class: "g-visit-main" }, h("strong", {}, CATEGORY()[i.category] || i.category),
      h("small", {}, formatDateTime(i.reported_at)), i.text ? h("small", {}, i.text) : null),
    h("span", { class: `g-state s-${i.state}` }, STATE()[i.state] || i.state)))
    : [h("li", { class: "empty" }, t("No reports yet."))]));
}

function listen() {
  if (!navigator.onLine) { window.addEventListener("online", listen, { once: true }); return; }
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/api/v1/grid/ws`);
  ws.addEventListener("message", (e) => {
    let msg;
    try { msg = JSON.parse(e.data); } catch { return; }
    if (msg.type === "grid" && String(msg.event).startsWith("incident")) loadReports();
  });
  ws.addEventListener("close", () => setTimeout(listen, 5000));
}

// --- loading ----------------------------------------------------------------------------------------

async function loadToday() {
  try {
    state.today = await api("/grid/today", { quiet: true });
  } catch {
    if (!state.today) $("#g-checkpoints").replaceChildren(h("li", { class: "empty" }, t("Could not load today's work.")));
    return;
  }
  renderRoute();
  renderVisits();
  document.documentElement.dataset.gridReady = "1";
}

async function start() {
  setNet();
  await renderOutbox();
  const [geo] = await Promise.all([api("/regions/map", { quiet: true }).catch(() => null), loadToday()]);
  if (geo) map.setRegions(geo);
  const pts = routes().flatMap((r) => r.route.line);
  map.fit(pts.length ? pts : checkpoints().map((c) => [c.lon, c.lat]));
  renderRoute();
  trySend();
  keepForOffline();
  loadReports();
  listen();
}
start();

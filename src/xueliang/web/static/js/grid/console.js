// The grid console (/grid) for station operators and village duty officers: today's board (updated
// live over the grid WebSocket: every message makes the board refetch through the audited routes),
// incidents and their steps (上报→分派→处理→核查), the video patrol tour player, the patrol routes with a
// small map editor and their QR sheets, and each village's coverage with its blind spots drawn.

import { api, me, toast, wireCommon } from "../api.js";
import { $, $$, debounce, h } from "../dom.js";
import { formatClock, formatDateTime, localName, t } from "../i18n.js";
import { openLive } from "../live.js";
import { barChart, csvLink } from "./charts.js";
import "./errors.js"; // the grid's refusals in the reader's language, in api()'s toasts
import { createGridMap } from "./gridmap.js";

wireCommon();

const S = { regions: [], routes: [], tours: [], cameras: new Map(), geo: null, board: null, workers: new Map() };

const CATEGORY = () => ({
  public_safety: t("Public safety"), road_traffic: t("Road and traffic"), fire_hazard: t("Fire hazard"),
  dispute: t("Dispute"), environment: t("Environment"), infrastructure: t("Infrastructure"),
  help_needed: t("Help needed"), other: t("Other"),
});
const STATE = () => ({
  reported: t("Reported"), assigned: t("Assigned"), in_hand: t("In hand"), resolved: t("Resolved"), checked: t("Checked"),
  planned: t("Planned"), in_progress: t("In progress"), done: t("Done"), missed: t("Not done in time"), running: t("Running"),
  paused: t("Paused"), upcoming: t("Upcoming"),
});
const stateTag = (s) => h("span", { class: `g-state s-${s}` }, STATE()[s] || s);
const regionName = (id) => { const r = S.regions.find((x) => x.id === id); return r ? localName(r) : `#${id}`; };
const routeOf = (id) => S.routes.find((r) => r.id === id);
const table = (el, head, rows, empty) => {
  el.replaceChildren(h("thead", {}, h("tr", {}, ...head.map((x) => h("th", {}, x)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: head.length, class: "g-muted" }, empty))));
};

// --- tabs -------------------------------------------------------------------------------------------

function showTab(name) {
  for (const b of $$(".g-subtabs [data-tab]")) b.setAttribute("aria-selected", String(b.dataset.tab === name));
  for (const s of $$(".g-tab")) s.hidden = s.id !== `tab-${name}`;
  if (name === "incidents") loadIncidents();
  if (name === "routes") renderRoutes();
  if (name === "coverage") loadCoverage();
  if (name === "stats") loadStats();
  if (history.replaceState) history.replaceState(null, "", `#${name}`);
}
for (const b of $$(".g-subtabs [data-tab]")) b.addEventListener("click", () => showTab(b.dataset.tab));

// --- board ------------------------------------------------------------------------------------------

async function loadBoard() {
  try { S.board = await api("/grid/board", { quiet: true }); } catch { return; }
  const b = S.board;
  for (const v of b.visits) S.workers.set(v.user_id, v.username);
  table($("#g-runs"), [t("Route"), t("Grid worker"), t("State"), t("Checkpoints"), t("Checkpoints missed")], b.runs.map((r) => {
    const route = routeOf(r.route_id);
    return h("tr", { dataset: { runId: r.id, routeId: r.route_id } },
      h("td", {}, route ? route.name : `#${r.route_id}`), h("td", {}, route ? route.worker_name : ""), h("td", {}, stateTag(r.state)),
      h("td", {}, h("span", { class: "g-checked" }, `${r.checked}/${r.total}`),
        h("div", { class: "g-bar" }, h("span", { style: `width:${r.total ? (100 * r.checked) / r.total : 0}%` }))),
      h("td", {}, String(r.missed.length)));
  }), t("No routes run today."));
  table($("#g-visits"), [t("Grid worker"), t("Visits done"), t("Visits to do"), t("Visits missed"), t("Visits late")], b.visits.map((v) => h("tr",
    { dataset: { userId: v.user_id } }, h("td", {}, v.username), h("td", { class: "g-v-done" }, String(v.done)),
    h("td", {}, String(v.open)), h("td", {}, String(v.missed)), h("td", {}, String(v.late)))), t("No visits today."));
  $("#g-open-count").textContent = String(b.open_incidents.length);
  table($("#g-open"), [t("Category"), t("Village"), t("State"), t("Age")], b.open_incidents.map((i) => h("tr",
    { dataset: { incidentId: i.id } }, h("td", {}, CATEGORY()[i.category] || i.category), h("td", {}, regionName(i.region_id)),
    h("td", {}, stateTag(i.state)), h("td", {}, t("{n} h", { n: i.age_hours.toFixed(1) })))), t("No open incidents."));
  table($("#g-missed"), [t("Day"), t("Route"), t("Checkpoint")], b.missed_checkpoints.map((m) => h("tr", {},
    h("td", {}, m.day), h("td", {}, m.route_name), h("td", {}, m.checkpoint_name))), t("None missed."));
  table($("#g-tourslots"), [t("Tour"), t("Time"), t("State")], b.tours.map((s) => h("tr", {},
    h("td", {}, s.name), h("td", {}, s.slot), h("td", {}, stateTag(s.state)))), t("No tours today."));
  $("#g-notices").replaceChildren(...b.notices.map((n) => h("li", {}, `${formatDateTime(n.at)} · ${n.text}`)));
}
const refreshBoard = debounce(loadBoard, 300);

const EVENT = () => ({
  checkin: t("Check-in"), visit: t("Visit"), sync: t("Offline records arrived"), incident_reported: t("Incident reported"),
  incident_changed: t("Incident updated"), tour_run: t("Video patrol"), tour_mark: t("Camera marked"), notice: t("Notice"),
});

function activity(msg) {
  const route = msg.route_id ? routeOf(msg.route_id) : null;
  const who = msg.user_id ? S.workers.get(msg.user_id) || (route && route.worker_name) || "" : "";
  const detail = [who, route ? route.name : "", msg.category ? CATEGORY()[msg.category] : "", msg.state ? STATE()[msg.state] || msg.state : "",
    msg.stored ? t("{n} records", { n: msg.stored }) : ""].filter(Boolean).join(" · ");
  const li = h("li", { class: `g-act g-act-${msg.event}`, dataset: { event: msg.event } },
    h("span", {}, `${formatClock(new Date())} ${EVENT()[msg.event] || msg.event}`), h("span", { class: "g-muted" }, detail));
  const list = $("#g-activity");
  list.prepend(li);
  while (list.children.length > 30) list.lastChild.remove();
}

function connect() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${proto}//${location.host}/api/v1/grid/ws`);
  const feed = $("#g-feed");
  let ping = 0;
  ws.addEventListener("message", (e) => {
    let msg;
    try { msg = JSON.parse(e.data); } catch { return; }
    if (msg.type === "hello") {
      feed.dataset.state = "up"; feed.textContent = t("Live");
      document.documentElement.dataset.gridFeed = "up";
      loadBoard();
    } else if (msg.type === "resync") {
      loadBoard();
    } else if (msg.type === "grid") {
      activity(msg);
      refreshBoard();
      if (!$("#tab-incidents").hidden && String(msg.event).startsWith("incident")) loadIncidents();
    }
  });
  ws.addEventListener("open", () => { ping = setInterval(() => ws.send('{"type":"ping"}'), 20000); });
  ws.addEventListener("close", () => {
    clearInterval(ping);
    feed.dataset.state = "down"; feed.textContent = t("Reconnecting…");
    document.documentElement.dataset.gridFeed = "down";
    setTimeout(connect, 3000);
  });
}

// --- incidents --------------------------------------------------------------------------------------

function workerOptions(selected) {
  const opts = [...S.workers.entries()].map(([id, name]) => h("option", { value: id, selected: id === selected }, name));
  if (me && !S.workers.has(me.id)) opts.push(h("option", { value: me.id }, me.display_name || me.username));
  return opts;
}

async function move(inc, to, assignee) {
  const body = { to };
  if (assignee) body.assignee_id = Number(assignee);
  try {
    await api(`/grid/incidents/${inc.id}/transition`, { method: "POST", body });
    toast(t("Incident updated."), "ok");
  } catch { /* shown by api() */ }
  loadIncidents();
  refreshBoard();
}

function actions(inc) {
  const out = [];
  if (inc.state === "reported" || inc.state === "assigned") {
    const sel = h("select", { class: "field", "aria-label": t("Assign to") }, workerOptions(inc.assignee_id || inc.reporter_id));
    out.push(sel, h("button", { type: "button", class: "btn btn-sm", onclick: () => move(inc, "assigned", sel.value) }, t("Assign")));
  }
  if (inc.state === "assigned") out.push(h("button", { type: "button", class: "btn btn-sm", onclick: () => move(inc, "in_hand") }, t("In hand")));
  if (inc.state === "in_hand") out.push(h("button", { type: "button", class: "btn btn-sm", onclick: () => move(inc, "resolved") }, t("Resolved")));
  if (inc.state === "resolved") {
    out.push(h("button", { type: "button", class: "btn btn-sm btn-primary", onclick: () => move(inc, "checked") }, t("Checked")),
      h("button", { type: "button", class: "btn btn-sm", onclick: () => move(inc, "in_hand") }, t("Send back")));
  }
  return out;
}

async function loadIncidents() {
  let rows;
  try { rows = await api("/grid/incidents", { query: { open: $("#g-inc-open").checked ? "true" : "" }, quiet: true }); } catch { return; }
  rows.sort((a, b) => b.reported_at.localeCompare(a.reported_at));
  table($("#g-incidents"), [t("Reported at"), t("Category"), t("Village"), t("What happened"), t("Photos"), t("State"), t("Next step")],
    rows.map((inc) => h("tr", { dataset: { incidentId: inc.id } },
      h("td", {}, formatDateTime(inc.reported_at)), h("td", {}, CATEGORY()[inc.category] || inc.category),
      h("td", {}, regionName(inc.region_id)), h("td", {}, inc.text || "—"),
      h("td", {}, ...inc.photos.map((pid) => h("a", { href: `/api/v1/grid/incidents/${inc.id}/photos/${pid}`, target: "_blank" },
        h("img", { src: `/api/v1/grid/incidents/${inc.id}/photos/${pid}`, alt: t("Photo"), width: 56, height: 42, class: "g-thumb" })))),
      h("td", {}, stateTag(inc.state)), h("td", {}, h("div", { class: "g-tour-bar" }, ...actions(inc))))), t("No incidents."));
}
$("#g-inc-open").addEventListener("change", loadIncidents);

// --- video patrol tours -----------------------------------------------------------------------------

const tour = { run: null, tour: null, index: 0, left: 0, timer: 0, paused: false, player: null, seq: 0 };

function renderTourSteps() {
  const tr = S.tours.find((x) => String(x.id) === $("#g-tour-select").value);
  const marks = new Map(((tour.run && tour.run.marks) || []).map((m) => [m.camera_id, m.mark]));
  $("#g-tour-steps").replaceChildren(...(tr ? tr.steps : []).map((s, i) => {
    const cam = S.cameras.get(s.camera_id);
    const mark = marks.get(s.camera_id);
    return h("li", { class: `${tour.run && i === tour.index ? "current" : ""}${mark ? ` m-${mark}` : ""}`, dataset: { cameraId: s.camera_id } },
      h("span", {}, `${i + 1}. ${cam ? localName(cam) : `#${s.camera_id}`}`), h("span", { class: "g-muted" }, t("{n} s", { n: s.seconds })));
  }));
}

function stopPlayer() {
  tour.seq += 1;
  if (tour.player && tour.player.close) tour.player.close();
  tour.player = null;
}

function setTourButtons() {
  const on = Boolean(tour.run);
  $("#g-tour-start").disabled = on;
  $("#g-tour-pause").disabled = !on;
  $("#g-mark-normal").disabled = !on;
  $("#g-mark-abnormal").disabled = !on;
  $("#g-tour-pause").textContent = tour.paused ? t("Resume") : t("Pause");
}

async function playStep() {
  clearInterval(tour.timer);
  const step = tour.tour.steps[tour.index];
  if (!step) { await finishTour(); return; }
  const cam = S.cameras.get(step.camera_id);
  $("#g-tour-title").textContent = `${tour.tour.name} · ${cam ? localName(cam) : `#${step.camera_id}`}`;
  stopPlayer();
  const seq = tour.seq;
  tour.left = step.seconds;
  renderTourSteps();
  openLive(step.camera_id, { host: $("#g-tour-player"), connecting: true, current: () => seq === tour.seq,
    unavailable: t("This camera cannot be opened now.") }).then((p) => { if (seq === tour.seq) tour.player = p; else if (p && p.close) p.close(); });
  tour.timer = setInterval(() => {
    if (tour.paused) return;
    tour.left -= 1;
    $("#g-tour-left").textContent = t("{n} s left", { n: Math.max(tour.left, 0) });
    if (tour.left <= 0) { tour.index += 1; playStep(); }
  }, 1000);
}

async function finishTour() {
  clearInterval(tour.timer);
  stopPlayer();
  if (tour.run) {
    try { await api(`/grid/tour-runs/${tour.run.id}/done`, { method: "POST" }); } catch { /* shown */ }
    toast(t("Tour finished."), "ok");
  }
  tour.run = null; tour.paused = false;
  $("#g-tour-left").textContent = "";
  $("#g-tour-player").replaceChildren(h("div", { class: "player-msg" }, t("Choose a tour and start it.")));
  setTourButtons();
  renderTourSteps();
  refreshBoard();
}

$("#g-tour-select").addEventListener("change", renderTourSteps);
$("#g-tour-start").addEventListener("click", async () => {
  const tr = S.tours.find((x) => String(x.id) === $("#g-tour-select").value);
  if (!tr) return;
  try { tour.run = await api(`/grid/tours/${tr.id}/runs`, { method: "POST", body: {} }); } catch { return; }
  tour.tour = tr; tour.index = 0; tour.paused = false;
  setTourButtons();
  playStep();
});
$("#g-tour-pause").addEventListener("click", async () => {
  if (!tour.run) return;
  const to = tour.paused ? "running" : "paused";
  try { tour.run = await api(`/grid/tour-runs/${tour.run.id}/${to}`, { method: "POST" }); } catch { return; }
  tour.paused = to === "paused";
  setTourButtons();
});
async function markCamera(mark) {
  const step = tour.run && tour.tour.steps[tour.index];
  if (!step) return;
  try {
    const out = await api(`/grid/tour-runs/${tour.run.id}/marks`, { method: "POST", body: { camera_id: step.camera_id, mark } });
    tour.run.marks = (tour.run.marks || []).filter((m) => m.camera_id !== step.camera_id).concat([out]);
    if (out.incident_id) toast(t("Incident #{id} opened for this camera.", { id: out.incident_id }), "info");
  } catch { return; }
  tour.index += 1;
  playStep();
}
$("#g-mark-normal").addEventListener("click", () => markCamera("normal"));
$("#g-mark-abnormal").addEventListener("click", () => markCamera("abnormal"));

// --- routes and the editor --------------------------------------------------------------------------

const draft = { id: null, line: [], checkpoints: [] };
let routeMap = null;

function villages() { return S.regions.filter((r) => r.level === "village" && r.in_scope); }

function drawDraft() {
  if (!routeMap) return;
  routeMap.setRoutes(S.routes.filter((r) => r.id !== draft.id).map((r) => r.line));
  routeMap.setLine(draft.line, draft.id ? "" : "draft");
  // checkpoints can be dragged (a moved one is no longer the place it was taken from)
  routeMap.setPoints(draft.checkpoints.map((c, i) => ({ lon: c.lon, lat: c.lat, label: String(i + 1), title: c.name,
    dataset: { cp: String(i + 1) },
    onMove: ([lon, lat]) => { Object.assign(c, { lon, lat, place_id: null }); drawDraft(); } })));
  $("#r-line-n").textContent = String(draft.line.length);
  $("#r-cps").replaceChildren(...draft.checkpoints.map((c, i) => h("li", {},
    h("span", {}, `${i + 1}.`), h("input", { class: "field", value: c.name, "aria-label": t("Checkpoint name"), maxlength: 100,
      oninput: (e) => { c.name = e.target.value; } }),
    h("button", { type: "button", class: "btn btn-sm", "aria-label": t("Remove"), onclick: () => { draft.checkpoints.splice(i, 1); drawDraft(); } }, "×"))));
}

function editRoute(r) {
  draft.id = r ? r.id : null;
  draft.line = r ? r.line.map((p) => [...p]) : [];
  draft.checkpoints = r ? r.checkpoints.map((c) => ({ id: c.id, name: c.name, lat: c.lat, lon: c.lon, radius_m: c.radius_m, place_id: c.place_id })) : [];
  $("#g-route-form-title").textContent = r ? t("Edit route") : t("New route");
  $("#r-name").value = r ? r.name : "";
  if (r) $("#r-region").value = String(r.region_id);
  $("#r-worker").replaceChildren(h("option", { value: "" }, "—"), ...workerOptions(r ? r.worker_id : null));
  $("#r-start").value = r ? r.window_start : "08:00";
  $("#r-end").value = r ? r.window_end : "18:00";
  for (const box of $$("#r-days input")) box.checked = r ? r.days.includes(Number(box.value)) : true;
  drawDraft();
  if (r && routeMap) routeMap.fit(r.line);
}

function renderRoutes() {
  if (!routeMap) {
    routeMap = createGridMap($("#g-route-map"), { onClick: ([lon, lat], e) => {
      if (e.shiftKey) draft.checkpoints.push({ name: t("Checkpoint {n}", { n: draft.checkpoints.length + 1 }), lat, lon });
      else draft.line.push([lon, lat]);
      drawDraft();
    }, onPlaceClick: (place, lon, lat) => {
      // A settlement or village exit becomes a checkpoint under its own name (and stays linked to the place).
      draft.checkpoints.push({ name: place.name, lat, lon, place_id: place.id });
      drawDraft();
    } });
    if (S.geo) routeMap.setRegions(S.geo);
    routeMap.setCameras([...S.cameras.values()]);
    routeMap.fit(S.routes.flatMap((r) => r.line));
    // Geoman's line tool draws a whole line (replacing the draft's); the draft line's vertices drag
    routeMap.enableEditing({ onLine: (line) => { draft.line = line; drawDraft(); } })
      .then(drawDraft)
      .catch(() => toast(t("The drawing tools could not be loaded; click the map to add points."), "warn"));
    const dayNames = [t("Mon"), t("Tue"), t("Wed"), t("Thu"), t("Fri"), t("Sat"), t("Sun")];
    $("#r-days").replaceChildren(...dayNames.map((d, i) => h("label", { class: "g-check" }, h("input", { type: "checkbox", value: i + 1, checked: true }), d)));
    $("#r-region").replaceChildren(...villages().map((v) => h("option", { value: v.id }, localName(v))));
    editRoute(null);
  }
  table($("#g-routes"), [t("Route"), t("Village"), t("Grid worker"), t("Time window"), t("Checkpoints"), ""], S.routes.map((r) => h("tr",
    { dataset: { routeId: r.id } }, h("td", {}, r.name), h("td", {}, regionName(r.region_id)), h("td", {}, r.worker_name || "—"),
    h("td", {}, `${r.window_start}–${r.window_end}`), h("td", {}, String(r.checkpoints.length)),
    h("td", {}, h("button", { type: "button", class: "btn btn-sm", onclick: () => editRoute(r) }, t("Edit")), " ",
      h("a", { class: "btn btn-sm", href: `/api/v1/grid/routes/${r.id}/qr.png`, target: "_blank" }, t("QR sheet"))))), t("No routes yet."));
}

function villageRing(id) {
  const f = S.geo && S.geo.features.find((x) => x.properties.kind === "region" && x.properties.id === id);
  if (!f) return [];
  return f.geometry.type === "Polygon" ? f.geometry.coordinates[0] : f.geometry.coordinates[0][0];
}
$("#r-region").addEventListener("change", () => { if (routeMap) routeMap.fit(villageRing(Number($("#r-region").value))); });
$("#r-clear").addEventListener("click", () => { draft.line = []; draft.checkpoints = []; drawDraft(); });
$("#r-new").addEventListener("click", () => editRoute(null));
$("#g-route-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = {
    region_id: Number($("#r-region").value), name: $("#r-name").value.trim(), line: draft.line,
    days: $$("#r-days input").filter((b) => b.checked).map((b) => Number(b.value)),
    window_start: $("#r-start").value, window_end: $("#r-end").value,
    worker_id: $("#r-worker").value ? Number($("#r-worker").value) : null,
    checkpoints: draft.checkpoints.map((c) => ({ id: c.id, name: c.name, lat: c.lat, lon: c.lon, radius_m: c.radius_m || 50, place_id: c.place_id || null })),
  };
  try {
    const saved = await api(draft.id ? `/grid/routes/${draft.id}` : "/grid/routes", { method: draft.id ? "PUT" : "POST", body });
    toast(t("Route saved."), "ok");
    S.routes = await api("/grid/routes");
    editRoute(saved);
    renderRoutes();
  } catch { /* shown by api() */ }
});

// --- coverage ---------------------------------------------------------------------------------------

let covMap = null;
async function loadCoverage() {
  const sel = $("#c-region");
  if (!sel.options.length) sel.replaceChildren(...villages().map((v) => h("option", { value: v.id }, localName(v))));
  if (!sel.value) return;
  if (!covMap) {
    covMap = createGridMap($("#g-cov-map"));
    if (S.geo) covMap.setRegions(S.geo);
    covMap.setCameras([...S.cameras.values()]);
  }
  let c;
  try { c = await api("/grid/coverage", { query: { region_id: sel.value } }); } catch { return; }
  const ring = villageRing(Number(sel.value));
  covMap.setBlind(c.uncovered);
  const rs = S.routes.filter((r) => r.region_id === Number(sel.value));
  covMap.setLine(rs.length ? rs[0].line : []);
  covMap.fit(ring.length ? ring : rs.flatMap((r) => r.line));
  const row = (label, key) => h("tr", {}, h("th", {}, label), h("td", {}, `${c.cameras[key].toFixed(1)}%`),
    h("td", {}, `${c.routes[key].toFixed(1)}%`), h("td", { class: "g-pct" }, `${c.either[key].toFixed(1)}%`));
  const figs = h("table", { class: "g-table", id: "g-cov-table" },
    h("thead", {}, h("tr", {}, h("th", {}, ""), h("th", {}, t("Cameras")), h("th", {}, t("Routes (30 m)")), h("th", {}, t("Either")))),
    h("tbody", {}, row(t("Area"), "area_pct"), row(t("Settlements"), "settlements_pct"), row(t("Households"), "households_pct")));
  const hh = c.uncovered_households || [];
  $("#g-cov-figures").replaceChildren(h("h2", {}, regionName(Number(sel.value))), figs,
    h("p", { class: "g-muted" }, t("Red: the blind spots, covered neither by a camera's field of view nor within 30 m of a patrol route.")),
    h("h2", {}, t("Households not covered: {n}", { n: hh.length })),
    h("ul", { class: "g-tour-steps" }, ...hh.slice(0, 60).map((x) => h("li", {}, t("Household #{id}", { id: typeof x === "object" ? x.id : x })))));
}
$("#c-region").addEventListener("change", loadCoverage);

// --- statistics -------------------------------------------------------------------------------------

const sumBy = (rows, key, pick) => rows.filter(pick).reduce((n, r) => n + (r[key] || 0), 0);
const pct = (done, all) => (all ? Math.round((1000 * done) / all) / 10 : null);

/** The charts of every series the statistics hold, over the periods shown (days or weeks, summed over
 * the rows: villages, stations or workers) and, for the range, per row; then coverage per village. */
function charts(rows, by) {
  const periods = [...new Set(rows.map((r) => r.day))].sort();
  const who = (r) => (by === "worker" ? r.username || "—" : r.region_name);
  const entities = [...new Set(rows.map(who))].sort();
  const inP = (d) => (r) => r.day === d;
  const inE = (e) => (r) => who(r) === e;
  const labelsP = periods.map((d) => d.slice(5));
  const over = (key) => periods.map((d) => sumBy(rows, key, inP(d)));
  const cats = CATEGORY();
  const palette = ["#c92a2a", "#e67700", "#d9480f", "#862e9c", "#2b8a3e", "#1971c2", "#0c8599", "#5f6b7a"];
  const closeHours = (pick) => {
    const rs = rows.filter((r) => pick(r) && r.close_hours_avg !== null);
    const n = rs.reduce((k, r) => k + r.incidents_closed, 0);
    return n ? rs.reduce((k, r) => k + r.close_hours_avg * r.incidents_closed, 0) / n : null;
  };
  const rowName = by === "worker" ? t("Grid worker") : by === "station" ? t("Station") : t("Village");
  return [
    barChart({ id: "completion", title: t("Patrol completion"), labels: labelsP, unit: "%", max: 100,
      series: [{ key: "completion", label: t("Routes done"), color: "#0f6fd1",
        values: periods.map((d) => pct(sumBy(rows, "runs_done", inP(d)), sumBy(rows, "runs", inP(d)))) }] }),
    barChart({ id: "missed", title: t("Checkpoints missed"), labels: labelsP,
      series: [{ key: "checkpoints_missed", label: t("Checkpoints missed"), color: "#c92a2a", values: over("checkpoints_missed") }] }),
    barChart({ id: "visits", title: t("Visits per day"), labels: labelsP, series: [
      { key: "visits_done", label: t("Visits done"), color: "#2b8a3e", values: over("visits_done") },
      { key: "visits_late", label: t("Visits late"), color: "#e67700", values: over("visits_late") },
      { key: "visits_missed", label: t("Visits missed"), color: "#c92a2a", values: over("visits_missed") }] }),
    barChart({ id: "ok", title: t("I'm OK answered"), labels: labelsP,
      series: [{ key: "ok_answered", label: t("I'm OK answered"), color: "#0c8599", values: over("ok_answered") }] }),
    barChart({ id: "categories", title: t("Incidents by category"), labels: labelsP, stacked: true,
      series: Object.entries(cats).map(([k, label], i) => ({ key: k, label, color: palette[i % palette.length], values: over(`cat_${k}`) })) }),
    barChart({ id: "closing", title: t("Incidents reported and closed"), labels: labelsP, series: [
      { key: "incidents", label: t("Incidents"), color: "#d9480f", values: over("incidents") },
      { key: "incidents_closed", label: t("Closed"), color: "#2b8a3e", values: over("incidents_closed") }] }),
    barChart({ id: "close-hours", title: t("Hours to close"), labels: labelsP, unit: "h",
      series: [{ key: "close_hours", label: t("Hours to close"), color: "#862e9c", values: periods.map((d) => closeHours(inP(d))) }] }),
    barChart({ id: "tours", title: t("Video patrol tours completed"), labels: labelsP,
      series: [{ key: "tours_done", label: t("Tours done"), color: "#1971c2", values: over("tours_done") }] }),
    barChart({ id: "per-row", title: `${t("Patrol completion")} · ${rowName}`, labels: entities, unit: "%", max: 100,
      series: [{ key: "completion", label: t("Routes done"), color: "#0f6fd1",
        values: entities.map((e) => pct(sumBy(rows, "runs_done", inE(e)), sumBy(rows, "runs", inE(e)))) }] }),
    barChart({ id: "per-row-visits", title: `${t("Visits")} · ${rowName}`, labels: entities, series: [
      { key: "visits_done", label: t("Visits done"), color: "#2b8a3e", values: entities.map((e) => sumBy(rows, "visits_done", inE(e))) },
      { key: "visits_late", label: t("Visits late"), color: "#e67700", values: entities.map((e) => sumBy(rows, "visits_late", inE(e))) },
      { key: "visits_missed", label: t("Visits missed"), color: "#c92a2a", values: entities.map((e) => sumBy(rows, "visits_missed", inE(e))) }] }),
  ];
}

/** Coverage of every village in reach (the cached figures of the coverage tab; each read audited). */
async function coverageChart() {
  const vs = villages();
  const results = await Promise.all(vs.map((v) => api("/grid/coverage", { query: { region_id: v.id }, quiet: true }).catch(() => null)));
  const ok = vs.map((v, i) => [v, results[i]]).filter(([, c]) => c);
  if (!ok.length) return [];
  const labels = ok.map(([v]) => localName(v));
  const head = [t("Village"), t("Area"), t("Settlements"), t("Households")];
  const rows = ok.map(([v, c]) => [localName(v), c.either.area_pct, c.either.settlements_pct, c.either.households_pct]);
  return [barChart({ id: "coverage", title: t("Coverage (cameras or routes)"), labels, unit: "%", max: 100, series: [
    { key: "area_pct", label: t("Area"), color: "#1971c2", values: ok.map(([, c]) => c.either.area_pct) },
    { key: "settlements_pct", label: t("Settlements"), color: "#2b8a3e", values: ok.map(([, c]) => c.either.settlements_pct) },
    { key: "households_pct", label: t("Households"), color: "#e67700", values: ok.map(([, c]) => c.either.households_pct) }] }),
  csvLink("grid-coverage.csv", head, rows, t("Export CSV"))];
}

async function loadStats() {
  if (!$('#s-by option[value="station"]')) $("#s-by").append(h("option", { value: "station" }, t("By station")));
  const query = { by: $("#s-by").value, period: $("#s-period").value };
  $("#s-csv").href = `/api/v1/grid/stats.csv?by=${query.by}&period=${query.period}`;
  let rows;
  try { rows = await api("/grid/stats", { query }); } catch { return; }
  $("#s-chart").replaceChildren(h("div", { class: "g-charts" }, ...charts(rows, query.by)));
  if (query.by !== "worker") {
    coverageChart().then((nodes) => { if (nodes.length) $("#s-chart .g-charts").append(h("div", { class: "g-chart-card" }, ...nodes)); });
  }
  const n = (x) => (x === null || x === undefined ? "—" : String(x));
  table($("#s-table"), [t("Day"), query.by === "worker" ? t("Grid worker") : query.by === "station" ? t("Station") : t("Village"), t("Routes done"), t("Checkpoints missed"),
    t("Visits done"), t("Visits late"), t("Visits missed"), t("I'm OK answered"), t("Incidents"), t("Closed"), t("Hours to close"),
    t("Tours done")], rows.map((r) => h("tr", {}, h("td", {}, r.day), h("td", {}, query.by === "worker" ? r.username : r.region_name),
    h("td", {}, `${r.runs_done}/${r.runs}`), h("td", {}, n(r.checkpoints_missed)), h("td", {}, n(r.visits_done)),
    h("td", {}, n(r.visits_late)), h("td", {}, n(r.visits_missed)), h("td", {}, n(r.ok_answered)), h("td", {}, n(r.incidents)),
    h("td", {}, n(r.incidents_closed)), h("td", {}, r.close_hours_avg === null ? "—" : r.close_hours_avg.toFixed(1)),
    h("td", {}, n(r.tours_done)))), t("No figures for these days."));
}
$("#s-by").addEventListener("change", loadStats);
$("#s-period").addEventListener("change", loadStats);

// --- start ------------------------------------------------------------------------------------------

async function start() {
  const [regions, routes, tours, cameras, geo] = await Promise.all([
    api("/regions", { quiet: true }).catch(() => []), api("/grid/routes", { quiet: true }).catch(() => []),
    api("/grid/tours", { quiet: true }).catch(() => []), api("/cameras", { quiet: true }).catch(() => []),
    api("/regions/map", { quiet: true }).catch(() => null)]);
  Object.assign(S, { regions, routes, tours, geo });
  for (const c of cameras) S.cameras.set(c.id, c);
  for (const r of routes) if (r.worker_id) S.workers.set(r.worker_id, r.worker_name);
  $("#g-tour-select").replaceChildren(...tours.map((x) => h("option", { value: x.id }, x.name)));
  renderTourSteps();
  setTourButtons();
  await loadBoard();
  connect();
  const first = location.hash.slice(1);
  showTab(["board", "incidents", "tours", "routes", "coverage", "stats"].includes(first) ? first : "board");
}
start();

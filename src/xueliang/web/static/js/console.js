// PC console: cameras (region tree, filtered list, SVG map, detail, video wall), user admin, audit trail.
// Sections are built only when the caller's permissions allow them (the server renders the same rule).
// Alarms (queue, detail, history, the raise button): alarm-console.js.

import { initAlarmBell, initAlarmConsole, initAlarmHistory, initRaiseButton } from "./alarm-console.js";
import { api, can, me, openStreams, toast, wireCommon } from "./api.js";
import { $, $$, debounce, h } from "./dom.js";
import { formatDateTime, kindLabel, levelLabel, localName, roleLabel, t, yesNo } from "./i18n.js";
import { createMap } from "./map.js";
import { createPlayer } from "./player.js";

wireCommon();
const section = ($(".app") || document.body).dataset.section;

if (section === "cameras") {
  if (can("list_cameras")) initCameras();
  else if (can("read_audit")) location.replace("/audit");
} else if (section === "audit" && can("read_audit")) {
  initAudit();
} else if (section === "users" && can("manage_users")) {
  initUsers();
}
if (section === "alarms" && can("handle_alarms")) initAlarmHistory();
else if (can("handle_alarms") && !(section === "cameras" && can("list_cameras"))) initAlarmBell();
if (can("raise_alarm") && !can("handle_alarms")) initRaiseButton();

// ---------------------------------------------------------------------------------------------- cameras

function compass(heading) {
  const names = [t("north"), t("north-east"), t("east"), t("south-east"), t("south"), t("south-west"), t("west"),
    t("north-west")];
  return names[Math.round((((heading % 360) + 360) % 360) / 45) % 8];
}

async function initCameras() {
  const state = {
    regions: [], regionById: new Map(), regionId: null, rootId: null,
    cameras: [], selected: null, seq: 0,
  };
  const listEl = $("#camera-list");
  const countEl = $("#camera-count");
  const filters = { q: $("#f-q"), kind: $("#f-kind"), public_view: $("#f-public"), ptz: $("#f-ptz") };

  let regions; let geo; let cameras;
  try {
    [regions, geo, cameras] = await Promise.all([api("/regions"), api("/regions/map"), api("/cameras")]);
  } catch {
    listEl.replaceChildren(h("li", { class: "empty" }, t("Could not load the cameras.")));
    return;
  }
  state.regions = regions;
  for (const r of regions) state.regionById.set(r.id, r);
  state.cameras = cameras;

  const map = createMap($("#map"), geo, {
    onCameraClick: (cam) => select(cam.id),
    onRegionClick: (id) => setRegion(id),
  });
  const wall = createWall($("#wall"));

  // Region tree ------------------------------------------------------------------------------------------
  const counts = new Map();
  for (const cam of cameras) {
    for (let r = state.regionById.get(cam.region_id); r; r = state.regionById.get(r.parent_id)) {
      counts.set(r.id, (counts.get(r.id) || 0) + 1);
    }
  }
  const children = new Map();
  for (const r of regions) {
    const key = state.regionById.has(r.parent_id) ? r.parent_id : null;
    if (!children.has(key)) children.set(key, []);
    children.get(key).push(r);
  }
  const root = regions.find((r) => r.in_scope);
  state.rootId = root ? root.id : null;

  function treeNode(region, depth) {
    const kids = children.get(region.id) || [];
    const open = region.level !== "village" && region.level !== "grid";
    const li = h("li", { role: "treeitem", "aria-expanded": kids.length ? String(open) : null,
      dataset: { regionId: region.id } });
    const toggle = kids.length
      ? h("button", { type: "button", class: "tree-toggle", "aria-label": open ? t("Collapse") : t("Expand") }, "")
      : h("span", { class: "tree-toggle-spacer" });
    const n = counts.get(region.id) || 0;
    const label = region.in_scope
      ? h("button", { type: "button", class: "tree-label", dataset: { regionId: region.id },
        onclick: () => setRegion(region.id) },
      h("span", { class: "tree-name" }, localName(region)), h("span", { class: "tree-count" }, n))
      : h("span", { class: "tree-label out", title: t("Above your area") }, h("span", { class: "tree-name" }, localName(region)));
    const row = h("div", { class: `tree-row level-${region.level}`, style: `--depth:${depth}` }, toggle, label);
    li.append(row);
    if (kids.length) {
      const ul = h("ul", { role: "group" }, kids.map((k) => treeNode(k, depth + 1)));
      li.append(ul);
      toggle.addEventListener("click", () => {
        const expanded = li.getAttribute("aria-expanded") !== "true";
        li.setAttribute("aria-expanded", String(expanded));
        toggle.setAttribute("aria-label", expanded ? t("Collapse") : t("Expand"));
      });
    }
    return li;
  }
  $("#region-tree").replaceChildren(...(children.get(null) || []).map((r) => treeNode(r, 0)));

  function markTree() {
    const active = state.regionId ?? state.rootId;
    for (const btn of $$("#region-tree .tree-label[data-region-id]")) {
      const on = Number(btn.dataset.regionId) === active;
      btn.classList.toggle("active", on);
      btn.setAttribute("aria-current", on ? "true" : "false");
    }
    // Open the branch down to the active region.
    for (let r = state.regionById.get(active); r; r = state.regionById.get(r.parent_id)) {
      const li = $(`#region-tree li[data-region-id="${r.parent_id}"]`);
      if (li) li.setAttribute("aria-expanded", "true");
    }
    const chip = $("#f-region");
    chip.hidden = state.regionId === null;
    if (state.regionId !== null) {
      const r = state.regionById.get(state.regionId);
      $("#f-region-name").textContent = `${levelLabel(r.level)}：${localName(r)}`;
    }
  }

  function setRegion(id) {
    state.regionId = id === state.rootId ? null : id;
    markTree();
    reload().then(() => map.showRegion(id, state.cameras));
  }
  $("#f-region-clear").addEventListener("click", () => setRegion(state.rootId));

  // Camera list ------------------------------------------------------------------------------------------
  const regionLabel = (cam) => {
    const region = state.regionById.get(cam.region_id);
    return region ? localName(region) : cam.region_name;
  };
  function renderList() {
    countEl.textContent = t("{count} shown", { count: state.cameras.length });
    if (!state.cameras.length) {
      listEl.replaceChildren(h("li", { class: "empty" }, t("No cameras match these filters.")));
      return;
    }
    listEl.replaceChildren(...state.cameras.map((cam) => h("li", {},
      h("button", {
        type: "button", class: `cam-item${cam.id === state.selected?.id ? " selected" : ""}${cam.enabled ? "" : " off"}`,
        dataset: { cameraId: cam.id }, onclick: () => select(cam.id, { reveal: true }),
        ondblclick: () => openLive(cam),
      },
      h("span", { class: `kind-dot kind-${cam.kind}`, title: kindLabel(cam.kind) }),
      h("span", { class: "cam-item-main" },
        h("span", { class: "cam-name" }, localName(cam)),
        h("span", { class: "cam-sub" }, `${regionLabel(cam)} · ${kindLabel(cam.kind)}`)),
      h("span", { class: "cam-flags" },
        cam.ptz ? h("span", { class: "flag", title: t("PTZ") }, t("PTZ")) : null,
        cam.public_view ? h("span", { class: "flag flag-public", title: t("Public view") }, t("Public")) : null,
        cam.enabled ? null : h("span", { class: "flag flag-off" }, t("Off")))))));
  }

  async function reload() {
    const seq = ++state.seq;
    const query = { region_id: state.regionId, kind: filters.kind.value, q: filters.q.value.trim(),
      public_view: filters.public_view.value, ptz: filters.ptz.value };
    let list;
    try { list = await api("/cameras", { query }); } catch { return; }
    if (seq !== state.seq) return; // a newer request is on its way
    state.cameras = list;
    renderList();
    map.setCameras(list);
    if (state.selected) map.select(state.selected.id);
  }
  filters.q.addEventListener("input", debounce(reload, 250));
  for (const el of [filters.kind, filters.public_view, filters.ptz]) el.addEventListener("change", reload);

  // Detail -----------------------------------------------------------------------------------------------
  async function select(id, { reveal = false } = {}) {
    const known = state.cameras.find((c) => c.id === id);
    state.selected = known || state.selected;
    for (const el of $$("#camera-list .cam-item")) el.classList.toggle("selected", Number(el.dataset.cameraId) === id);
    const item = $(`#camera-list .cam-item[data-camera-id="${id}"]`);
    if (item) item.scrollIntoView({ block: "nearest" });
    map.select(id, { reveal });
    if (known) renderDetail(known);
    try {
      const fresh = await api(`/cameras/${id}`);
      if (state.selected && state.selected.id === id) { state.selected = fresh; renderDetail(fresh); }
    } catch { /* shown by api() */ }
  }

  function renderDetail(cam) {
    const region = state.regionById.get(cam.region_id);
    const row = (label, value) => [h("dt", {}, label), h("dd", {}, value)];
    const other = localName(cam) === cam.name ? cam.name_en : cam.name;
    const fields = [
      row(t("GB ID"), h("code", {}, cam.gb_id)),
      row(t("Region"), region ? localName(region) : cam.region_name),
      row(t("Kind"), kindLabel(cam.kind)),
      row(t("Location"), `${cam.lat.toFixed(6)}, ${cam.lon.toFixed(6)}`),
      row(t("Heading"), t("{deg}° ({dir})", { deg: Math.round(cam.heading), dir: compass(cam.heading) })),
      row(t("Field of view"), t("{deg}°, {m} m", { deg: Math.round(cam.fov_angle), m: Math.round(cam.fov_range) })),
      row(t("PTZ"), cam.ptz ? t("PTZ (can turn and zoom)") : t("Fixed")),
      row(t("Public view"), yesNo(cam.public_view)),
      row(t("Recording"), yesNo(cam.record)),
      row(t("Enabled"), yesNo(cam.enabled)),
    ];
    if ("stream_url" in cam) fields.push(row(t("Source"), h("code", { class: "wrap" }, cam.stream_url)));
    if ("retention_days" in cam) fields.push(row(t("Keep recordings"), t("{n} days", { n: cam.retention_days })));
    const openBtn = can("view_live")
      ? h("button", { type: "button", class: "btn btn-primary", id: "open-live", disabled: !cam.enabled,
        onclick: () => openLive(cam) }, t("Open live"))
      : null;
    $("#detail").replaceChildren(
      h("div", { class: "detail-head" },
        h("span", { class: `kind-dot kind-${cam.kind}` }),
        h("div", {}, h("h2", { id: "detail-name" }, localName(cam)), other ? h("p", { class: "muted" }, other) : null)),
      h("div", { class: "detail-badges" },
        h("span", { class: "badge" }, kindLabel(cam.kind)),
        cam.enabled ? h("span", { class: "badge badge-ok" }, t("Enabled")) : h("span", { class: "badge badge-danger" }, t("Disabled")),
        cam.public_view ? h("span", { class: "badge badge-brand" }, t("Public view")) : null,
        cam.ptz ? h("span", { class: "badge" }, t("PTZ")) : null),
      h("div", { class: "detail-actions" }, openBtn,
        h("button", { type: "button", class: "btn", onclick: () => { showTab("map"); map.select(cam.id, { reveal: true }); } },
          t("Show on map"))),
      h("dl", { class: "detail-fields" }, fields));
  }

  // Map / wall tabs ("split": both, the map above the wall, as while handling an alarm) ---------------------
  let tab = "map";
  function showTab(which) {
    tab = which;
    $("#map").hidden = which === "wall";
    $("#wall").hidden = which === "map";
    $("#wall-layouts").hidden = which === "map";
    $(".center").classList.toggle("split", which === "split");
    for (const name of ["map", "wall", "split"]) $(`#tab-${name}`)?.setAttribute("aria-selected", String(which === name));
  }
  $("#tab-map").addEventListener("click", () => showTab("map"));
  $("#tab-wall").addEventListener("click", () => showTab("wall"));
  $("#tab-split")?.addEventListener("click", () => showTab("split"));
  function setWallLayout(n, { onlyGrow = false } = {}) {
    if (onlyGrow && wall.size() >= n) return;
    wall.setLayout(n);
    for (const b of $$("#wall-layouts [data-layout]")) b.setAttribute("aria-pressed", String(Number(b.dataset.layout) === n));
  }
  for (const btn of $$("#wall-layouts [data-layout]")) {
    btn.addEventListener("click", () => setWallLayout(Number(btn.dataset.layout)));
  }

  /** Live video of `cam` on the wall; `tile` puts it in that tile, `keep` leaves it if already shown. */
  async function openLive(cam, { tile, keep = false } = {}) {
    if (!can("view_live")) return;
    if (keep && wall.has(cam.id)) return;
    let out;
    try { out = await api(`/cameras/${cam.id}/open`, { method: "POST" }); } catch { return; }
    if (tab === "map") showTab("wall");
    wall.show(out.camera, out.streams, () => openLive(cam), tile);
  }

  renderList();
  markTree();
  map.setCameras(cameras);
  if (can("handle_alarms")) {
    const camById = new Map(cameras.map((cam) => [cam.id, cam]));
    initAlarmConsole({
      map, showTab, setWallLayout, openLive: (cam, opts) => openLive(cam, { keep: true, ...opts }),
      regionName: (id, fallback) => (state.regionById.has(id) ? localName(state.regionById.get(id)) : fallback),
      cameraName: (id, fallback) => (camById.has(id) ? localName(camById.get(id)) : fallback),
    });
  }
}

/** The camera wall: 1, 4, 9 or 16 tiles; a click picks the tile the next camera goes to. */
function createWall(el) {
  let size = 4;
  let target = 0;
  let tiles = [];

  function tileEl(i) {
    return h("div", { class: "tile", dataset: { tile: i }, onclick: () => { target = i; mark(); } },
      h("div", { class: "tile-head" }, h("span", { class: "tile-name" }, t("Tile {n}", { n: i + 1 }))),
      h("div", { class: "tile-body" }, h("div", { class: "tile-empty" },
        t("Select a camera, then press “Open live”."))));
  }

  function build() {
    const old = tiles.filter((tile) => tile.camera);
    for (const tile of old.slice(size)) tile.player.close();
    tiles = Array.from({ length: size }, (_, i) => ({ el: tileEl(i), camera: null, player: null }));
    old.slice(0, size).forEach((prev, i) => {
      Object.assign(tiles[i], { camera: prev.camera, streams: prev.streams, retry: prev.retry });
      prev.player.close();
      fill(i);
    });
    el.dataset.layout = String(size);
    el.replaceChildren(...tiles.map((tile) => tile.el));
    target = Math.min(target, size - 1);
    mark();
  }

  function fill(i) {
    const tile = tiles[i];
    const head = tile.el.querySelector(".tile-head");
    head.replaceChildren(h("span", { class: "tile-name" }, localName(tile.camera)),
      h("button", { type: "button", class: "tile-close", "aria-label": t("Close"), title: t("Close"),
        onclick: (e) => { e.stopPropagation(); close(i); } }, "×"));
    tile.el.classList.add("busy");
    tile.el.dataset.cameraId = tile.camera.id;
    const id = tile.camera.id;
    tile.player = createPlayer(tile.el.querySelector(".tile-body"), tile.streams, { onRetry: tile.retry,
      reopen: () => openStreams(id) });
  }

  function close(i) {
    const fresh = tileEl(i);
    if (tiles[i].player) tiles[i].player.close();
    tiles[i].el.replaceWith(fresh);
    tiles[i] = { el: fresh, camera: null, player: null };
    target = i;
    mark();
  }

  function mark() {
    tiles.forEach((tile, i) => tile.el.classList.toggle("target", i === target));
    const busy = tiles.filter((tile) => tile.camera).length;
    const badge = $("#wall-count");
    badge.hidden = !busy;
    badge.textContent = String(busy);
  }

  build();
  return {
    setLayout(n) { size = n; build(); },
    size: () => size,
    has: (cameraId) => tiles.some((tile) => tile.camera && tile.camera.id === cameraId),
    /** Shows `camera` in its tile if it is on the wall, else in tile `index` if given, else a free one. */
    show(camera, streams, retry, index) {
      let i = tiles.findIndex((tile) => tile.camera && tile.camera.id === camera.id);
      if (i < 0 && index !== undefined && index < size) i = index;
      if (i < 0) i = tiles[target] && !tiles[target].camera ? target : tiles.findIndex((tile) => !tile.camera);
      if (i < 0) i = target;
      if (tiles[i].player) tiles[i].player.close();
      Object.assign(tiles[i], { camera, streams, retry });
      fill(i);
      const free = tiles.findIndex((tile) => !tile.camera);
      target = free >= 0 ? free : (i + 1) % size;
      mark();
    },
  };
}

// ------------------------------------------------------------------------------------------------ audit

function actionLabel(action) {
  return {
    "auth.login": t("Logged in"),
    "auth.login_failed": t("Failed login"),
    "auth.logout": t("Logged out"),
    "camera.open": t("Opened a camera"),
    "camera.create": t("Added a camera"),
    "camera.update": t("Changed a camera"),
    "camera.delete": t("Deleted a camera"),
    "user.create": t("Created a user"),
    "user.update": t("Changed a user"),
  }[action] || action;
}

function targetLabel(type) {
  return { user: t("User"), camera: t("Camera"), region: t("Region") }[type] || type;
}

function initAudit() {
  const PAGE = 50;
  const form = $("#audit-filters");
  const body = $("#audit-table tbody");
  const state = { before: null, history: [], page: 1 };

  async function load() {
    const query = { action: form.action.value, actor: form.actor.value.trim(), target_type: form.target_type.value,
      before_seq: state.before, limit: PAGE + 1 };
    let rows;
    try { rows = await api("/audit", { query }); } catch { return; }
    const more = rows.length > PAGE;
    rows = rows.slice(0, PAGE);
    state.last = rows.length ? rows[rows.length - 1].seq : null;
    body.replaceChildren(...(rows.length ? rows.map((r) => h("tr", { dataset: { seq: r.seq } },
      h("td", { class: "num" }, r.seq),
      h("td", { class: "nowrap" }, formatDateTime(r.at)),
      h("td", {}, r.actor || "—"),
      h("td", {}, h("span", { class: `act act-${r.action.split(".")[0]}${r.action.endsWith("failed") ? " act-bad" : ""}` },
        actionLabel(r.action)), h("code", { class: "act-code" }, r.action)),
      h("td", {}, r.target_type ? `${targetLabel(r.target_type)} #${r.target_id}` : "—"),
      h("td", {}, h("code", {}, r.address || "—")),
      h("td", { class: "detail-cell" }, Object.entries(r.detail || {}).map(([k, v]) =>
        h("span", { class: "kv" }, h("b", {}, k), typeof v === "object" ? JSON.stringify(v) : String(v))))))
      : [h("tr", {}, h("td", { colspan: 7, class: "empty" }, t("No records match these filters.")))]));
    $("#audit-newer").disabled = state.history.length === 0;
    $("#audit-older").disabled = !more;
    $("#audit-page").textContent = t("Page {n}", { n: state.page });
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    Object.assign(state, { before: null, history: [], page: 1 });
    load();
  });
  $("#audit-older").addEventListener("click", () => {
    state.history.push(state.before);
    state.before = state.last;
    state.page += 1;
    load();
  });
  $("#audit-newer").addEventListener("click", () => {
    state.before = state.history.pop() ?? null;
    state.page -= 1;
    load();
  });
  $("#verify").addEventListener("click", async () => {
    const box = $("#verify-result");
    const btn = $("#verify");
    btn.disabled = true;
    box.hidden = false;
    box.className = "verify";
    box.textContent = t("Checking…");
    try {
      const out = await api("/audit/verify");
      box.className = `verify ${out.ok ? "verify-ok" : "verify-bad"}`;
      box.textContent = out.ok
        ? t("Chain intact: {n} records checked.", { n: out.checked })
        : t("Chain broken at record #{seq}: {reason}", { seq: out.broken_seq, reason: out.reason });
    } catch {
      box.hidden = true;
    } finally {
      btn.disabled = false;
    }
  });
  load();
}

// ------------------------------------------------------------------------------------------------ users

// Which region level each role is bound to (mirrors accounts.service.ROLE_LEVELS on the server).
const ROLE_LEVELS = {
  admin: ["county", "province"], auditor: ["county", "province"], operator: ["township"],
  duty_officer: ["village"], volunteer: ["village"], resident: ["village"], grid_worker: ["village", "grid"],
};
const USERNAME = /^[A-Za-z0-9._-]{1,64}$/;

async function initUsers() {
  const body = $("#users-table tbody");
  let users; let regions;
  try {
    [users, regions] = await Promise.all([api("/users"), api("/regions")]);
  } catch {
    body.replaceChildren(h("tr", {}, h("td", { colspan: 6, class: "empty" }, t("Could not load the users."))));
    return;
  }
  const scoped = regions.filter((r) => r.in_scope);
  const depth = new Map();
  const byId = new Map(regions.map((r) => [r.id, r]));
  for (const r of scoped) {
    let d = 0;
    for (let p = byId.get(r.parent_id); p && p.in_scope; p = byId.get(p.parent_id)) d += 1;
    depth.set(r.id, d);
  }
  const regionName = (u) => {
    const r = byId.get(u.region_id);
    return r ? localName(r) : u.region_name;
  };

  function fillRegions(select, role, current) {
    const levels = ROLE_LEVELS[role] || [];
    const options = scoped.filter((r) => levels.includes(r.level));
    select.replaceChildren(...options.map((r) => h("option", { value: r.code, selected: r.code === current },
      `${"\u3000".repeat(Math.max(depth.get(r.id) - 1, 0))}${localName(r)} (${levelLabel(r.level)})`)));
    if (!options.length) select.append(h("option", { value: "" }, t("No region of the right level in your area")));
  }

  const q = $("#u-q");
  const roleFilter = $("#u-role");
  function render(highlight) {
    const text = q.value.trim().toLowerCase();
    const shown = users.filter((u) => (!roleFilter.value || u.role === roleFilter.value)
      && (!text || u.username.toLowerCase().includes(text) || u.display_name.toLowerCase().includes(text)));
    $("#u-count").textContent = t("{count} shown", { count: shown.length });
    body.replaceChildren(...(shown.length ? shown.map((u) => h("tr", {
      dataset: { userId: u.id, username: u.username }, class: u.id === highlight ? "flash" : null,
    },
    h("td", {}, h("code", {}, u.username)),
    h("td", {}, u.display_name),
    h("td", {}, roleLabel(u.role)),
    h("td", {}, regionName(u)),
    h("td", {}, u.disabled ? h("span", { class: "badge badge-danger" }, t("Disabled"))
      : h("span", { class: "badge badge-ok" }, t("Active"))),
    h("td", { class: "actions" },
      h("button", { type: "button", class: "btn btn-sm", onclick: () => edit(u) }, t("Edit")),
      h("button", { type: "button", class: `btn btn-sm${u.disabled ? "" : " btn-danger"}`, disabled: u.id === me.id,
        title: u.id === me.id ? t("You cannot disable your own account") : null,
        onclick: () => toggle(u) }, u.disabled ? t("Enable") : t("Disable")))))
      : [h("tr", {}, h("td", { colspan: 6, class: "empty" }, t("No users match.")))]));
  }
  q.addEventListener("input", () => render());
  roleFilter.addEventListener("change", () => render());

  function replace(updated) {
    users = users.map((u) => (u.id === updated.id ? updated : u));
    render(updated.id);
  }

  async function toggle(u) {
    try {
      const out = await api(`/users/${u.id}`, { method: "PATCH", body: { disabled: !u.disabled } });
      replace(out);
      toast(out.disabled ? t("{name} can no longer log in.", { name: out.username })
        : t("{name} can log in again.", { name: out.username }), "ok");
    } catch { /* shown */ }
  }

  // Create ---------------------------------------------------------------------------------------------
  const form = $("#user-create");
  const formError = form.querySelector(".form-error");
  const say = (box, text) => { box.textContent = text; box.hidden = !text; };
  form.role.addEventListener("change", () => fillRegions(form.region_code, form.role.value));
  fillRegions(form.region_code, form.role.value);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = { username: form.username.value.trim(), display_name: form.display_name.value.trim(),
      password: form.password.value, role: form.role.value, region_code: form.region_code.value };
    if (!USERNAME.test(data.username)) return say(formError, t("Username: 1–64 letters, digits, “.”, “-” or “_”."));
    if (data.password.length < 8) return say(formError, t("The password needs at least 8 characters."));
    if (!data.region_code) return say(formError, t("Choose a region."));
    say(formError, "");
    const submit = form.querySelector("[type=submit]");
    submit.disabled = true;
    try {
      const out = await api("/users", { method: "POST", body: data, quiet: true });
      users = [...users, out].sort((a, b) => a.username.localeCompare(b.username));
      q.value = ""; roleFilter.value = "";
      render(out.id);
      form.reset();
      fillRegions(form.region_code, form.role.value);
      toast(t("User {name} created.", { name: out.username }), "ok");
      const row = body.querySelector(`tr[data-user-id="${out.id}"]`);
      if (row) row.scrollIntoView({ block: "center" });
    } catch (err) {
      say(formError, err.message);
    } finally {
      submit.disabled = false;
    }
  });

  // Edit -----------------------------------------------------------------------------------------------
  const dialog = $("#user-edit");
  const ef = $("#user-edit-form");
  const editError = ef.querySelector(".form-error");
  let editing = null;
  ef.role.addEventListener("change", () => fillRegions(ef.region_code, ef.role.value, editing && editing.region_code));
  ef.querySelector("[data-close]").addEventListener("click", () => dialog.close());
  function edit(u) {
    editing = u;
    $("#ue-title").textContent = t("Edit {name}", { name: u.username });
    ef.display_name.value = u.display_name;
    ef.role.value = u.role;
    ef.password.value = "";
    fillRegions(ef.region_code, u.role, u.region_code);
    say(editError, "");
    dialog.showModal();
  }
  ef.addEventListener("submit", async (e) => {
    e.preventDefault();
    const patch = {};
    if (ef.display_name.value.trim() !== editing.display_name) patch.display_name = ef.display_name.value.trim();
    if (ef.role.value !== editing.role) patch.role = ef.role.value;
    if (ef.region_code.value && ef.region_code.value !== editing.region_code) patch.region_code = ef.region_code.value;
    if (ef.password.value) {
      if (ef.password.value.length < 8) return say(editError, t("The password needs at least 8 characters."));
      patch.password = ef.password.value;
    }
    if (!Object.keys(patch).length) { dialog.close(); return undefined; }
    try {
      const out = await api(`/users/${editing.id}`, { method: "PATCH", body: patch, quiet: true });
      replace(out);
      dialog.close();
      toast(t("Saved."), "ok");
    } catch (err) {
      say(editError, err.message);
    }
    return undefined;
  });

  render();
}

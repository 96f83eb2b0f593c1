// The cameras section: region tree, filtered list, SVG map, camera detail and the video wall, wired
// together; for staff who handle alarms, the alarm queue and detail share the map and the wall.

import { initAlarmConsole } from "../alarm-console.js";
import { api, can } from "../api.js";
import { $, $$, debounce, h } from "../dom.js";
import { localName, t } from "../i18n.js";
import { openLive as openCamera } from "../live.js";
import { createMap } from "../map.js";
import { renderCameraDetail } from "./camera-detail.js";
import { renderCameraList } from "./camera-list.js";
import { markTree, renderRegionTree } from "./region-tree.js";
import { createWall } from "./wall.js";

export async function initCameras() {
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
  const root = regions.find((r) => r.in_scope);
  state.rootId = root ? root.id : null;
  renderRegionTree(state, cameras, (id) => setRegion(id));

  function setRegion(id) {
    state.regionId = id === state.rootId ? null : id;
    markTree(state);
    reload().then(() => map.showRegion(id, state.cameras));
  }
  $("#f-region-clear").addEventListener("click", () => setRegion(state.rootId));

  // Camera list ------------------------------------------------------------------------------------------
  function renderList() {
    renderCameraList(listEl, countEl, state, { onSelect: (id) => select(id, { reveal: true }), onOpen: openLive });
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
    renderCameraDetail(cam, state.regionById, {
      onOpenLive: openLive,
      onShowOnMap: () => { showTab("map"); map.select(cam.id, { reveal: true }); },
    });
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
    await openCamera(cam.id, {
      show: (out) => {
        if (tab === "map") showTab("wall");
        wall.show(out.camera, out.streams, () => openLive(cam), tile);
      },
    });
  }

  renderList();
  markTree(state);
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

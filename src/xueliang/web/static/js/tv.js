// TV set-top box: remote control only (arrows, OK, Back, the red key). Focus moves spatially between
// elements marked data-nav (and the language links); the focused one wears a large yellow ring.
// Screens: home (tiles) -> camera list (cards) -> full-screen live view (◀ ▶ switch camera, Back returns).
// The red key and the Alarm tile raise a one-click alarm (alarm-tv.js), from any screen.

import { createTvAlarm } from "./alarm-tv.js";
import { api, can, wireCommon } from "./api.js";
import { $, $$, h } from "./dom.js";
import { formatClock, formatDate, kindLabel, localName, t } from "./i18n.js";
import { openLive } from "./live.js";

wireCommon();

const screens = { home: $("#screen-home"), list: $("#screen-list"), view: $("#screen-view") };
const modal = $("#tv-modal");
const state = { screen: "home", cameras: [], index: 0, player: null, openSeq: 0, lastFocus: {}, modalReturn: null };

// ------------------------------------------------------------------------------------------------- keys

const KEY_NAMES = {
  ArrowUp: "up", Up: "up", ArrowDown: "down", Down: "down", ArrowLeft: "left", Left: "left",
  ArrowRight: "right", Right: "right", Enter: "ok", Accept: "ok",
  Backspace: "back", Escape: "back", Esc: "back", GoBack: "back", BrowserBack: "back", XF86Back: "back",
  ColorF0Red: "red",
};
const KEY_CODES = {
  37: "left", 38: "up", 39: "right", 40: "down", 13: "ok",
  8: "back", 27: "back", 461: "back", 10009: "back", // 461: LG webOS Back, 10009: Samsung Tizen Back
  403: "red",
};

/** The remote key pressed, or null: e.key first, keyCode for set-top browsers that only send that. */
export function remoteKey(e) {
  return KEY_NAMES[e.key] || KEY_CODES[e.keyCode] || null;
}

// ------------------------------------------------------------------------------------------------ focus

function visible(el) {
  return el.offsetParent !== null || getComputedStyle(el).position === "fixed";
}

function navigables() {
  if (!modal.hidden) return [$("#modal-ok")];
  if (state.screen === "view") return [];
  const roots = [$(".tv-top"), screens[state.screen]];
  return roots.flatMap((root) => $$("[data-nav], .lang a", root)).filter(visible);
}

function focus(el) {
  if (!el) return;
  el.focus({ preventScroll: true });
  el.scrollIntoView({ block: "nearest", inline: "nearest", behavior: "smooth" });
  if (state.screen !== "view" && modal.hidden) state.lastFocus[state.screen] = el;
}

/** Moves focus to the nearest element in direction `dir`, preferring ones in line with the current one. */
function move(dir) {
  const items = navigables();
  const cur = document.activeElement;
  if (!items.includes(cur)) { focus(items[0]); return; }
  const r = cur.getBoundingClientRect();
  const cx = r.left + r.width / 2;
  const cy = r.top + r.height / 2;
  let best = null;
  let bestScore = Infinity;
  for (const el of items) {
    if (el === cur) continue;
    const q = el.getBoundingClientRect();
    const qx = q.left + q.width / 2;
    const qy = q.top + q.height / 2;
    let main; let cross; let inLine;
    if (dir === "left" || dir === "right") {
      if (dir === "right" ? qx <= cx + 1 : qx >= cx - 1) continue;
      main = dir === "right" ? q.left - r.right : r.left - q.right;
      cross = Math.abs(qy - cy);
      inLine = q.top < r.bottom && q.bottom > r.top;
    } else {
      if (dir === "down" ? qy <= cy + 1 : qy >= cy - 1) continue;
      main = dir === "down" ? q.top - r.bottom : r.top - q.bottom;
      cross = Math.abs(qx - cx);
      inLine = q.left < r.right && q.right > r.left;
    }
    const score = Math.max(main, 0) + cross * (inLine ? 0.3 : 2) + (inLine ? 0 : 10000);
    if (score < bestScore) { bestScore = score; best = el; }
  }
  if (best) focus(best);
}

// ---------------------------------------------------------------------------------------------- screens

function show(name) {
  state.screen = name;
  for (const [key, el] of Object.entries(screens)) el.hidden = key !== name;
  document.body.dataset.screen = name;
  $("#tv-hints").hidden = name === "view";
  $(".tv-top").hidden = name === "view";
}

function openModal(title, text) {
  state.modalReturn = document.activeElement;
  $("#modal-title").textContent = title;
  $("#modal-text").textContent = text;
  modal.hidden = false;
  $("#modal-ok").focus();
}

function closeModal() {
  modal.hidden = true;
  const back = state.modalReturn;
  state.modalReturn = null;
  if (back && back.isConnected && state.screen !== "view") focus(back);
}
$("#modal-ok").addEventListener("click", closeModal);

const alarm = createTvAlarm({
  tile: $(".tv-tile.tile-alarm"),
  restoreFocus: (el) => {
    if (!modal.hidden) $("#modal-ok").focus();
    else if (state.screen === "view") screens.view.focus();
    else if (el && el.isConnected && !el.closest("[hidden]")) focus(el);
    else focus(state.lastFocus[state.screen] || navigables()[0]);
  },
});

function goHome() {
  show("home");
  focus(state.lastFocus.home || $("#tile-cameras"));
}

function goList() {
  show("list");
  const cards = $$(".tv-card", screens.list);
  focus(state.lastFocus.list && state.lastFocus.list.isConnected ? state.lastFocus.list : cards[0] || null);
}

let overlayTimer = 0;
function flashOverlay() {
  const overlay = $("#tv-overlay");
  overlay.classList.add("on");
  clearTimeout(overlayTimer);
  overlayTimer = setTimeout(() => overlay.classList.remove("on"), 5000);
}

async function openView(index) {
  const n = state.cameras.length;
  if (!n) return;
  state.index = ((index % n) + n) % n;
  const cam = state.cameras[state.index];
  show("view");
  screens.view.focus();
  $("#view-name").textContent = localName(cam);
  $("#view-pos").textContent = `${state.index + 1} / ${n}`;
  screens.view.dataset.cameraId = cam.id;
  flashOverlay();
  if (state.player) state.player.close();
  state.player = null;
  const seq = ++state.openSeq;
  // A refusal: api() has shown the reason; the viewer can switch or go back.
  const player = await openLive(cam.id, { host: $("#tv-player"), connecting: true,
    current: () => seq === state.openSeq && state.screen === "view", onRetry: () => openView(state.index) });
  if (player) state.player = player;
}

function closeView() {
  state.openSeq += 1;
  if (state.player) state.player.close();
  state.player = null;
  $("#tv-player").replaceChildren();
  show("list");
  focus($(`.tv-card[data-index="${state.index}"]`, screens.list) || $(".tv-card", screens.list));
}

function activate(el) {
  if (!el) return;
  const go = el.dataset.go;
  if (go === "cameras") goList();
  else if (go === "alarm") alarm.press("tile");
  else if (go === "services") openModal(t("Services"), t("Village services are coming soon."));
  else if (el.dataset.index !== undefined) openView(Number(el.dataset.index));
  else el.click();
}

document.addEventListener("keydown", (e) => {
  const key = remoteKey(e);
  if (!key) return;
  e.preventDefault(); // no page scrolling, no history navigation, no native button activation
  if (alarm.handleKey(key, e.repeat)) return; // the red key anywhere; every key while the alarm screen is up
  if (!modal.hidden) {
    if (key === "ok" || key === "back") closeModal();
    return;
  }
  if (state.screen === "view") {
    if (key === "left") openView(state.index - 1);
    else if (key === "right") openView(state.index + 1);
    else if (key === "back") closeView();
    else if (key === "ok" && $("#tv-player .player-msg:not([hidden]) .btn")) openView(state.index); // try again
    else flashOverlay();
    return;
  }
  if (key === "ok") activate(document.activeElement);
  else if (key === "back") { if (state.screen === "list") goHome(); }
  else move(key);
});

// A mouse or touch still works (some boxes have an air mouse), through the same actions.
for (const tile of $$(".tv-tile")) tile.addEventListener("click", (e) => { e.preventDefault(); activate(tile); });

// ------------------------------------------------------------------------------------------------- data

function tick() {
  $("#tv-time").textContent = formatClock();
  $("#tv-date").textContent = formatDate();
}
tick();
setInterval(tick, 15000);

function card(cam, index) {
  return h("button", { type: "button", class: `tv-card kind-${cam.kind}`, "data-nav": true,
    dataset: { index, cameraId: cam.id }, onclick: () => openView(index) },
  h("span", { class: "tv-card-art" },
    h("svg:svg", { viewBox: "0 0 48 48", class: "tv-card-icon", "aria-hidden": "true" },
      h("svg:path", { d: "M6 15h24v18H6zM30 21l12-7v20l-12-7z", fill: "none", stroke: "currentColor",
        "stroke-width": "3", "stroke-linejoin": "round" })),
    h("span", { class: "tv-card-kind" }, kindLabel(cam.kind))),
  h("span", { class: "tv-card-name" }, localName(cam)),
  h("span", { class: "tv-card-sub" }, cam.ptz ? t("Can turn and zoom") : t("Fixed view")));
}

async function load() {
  const note = $("#cams-note");
  if (!can("list_cameras")) {
    note.textContent = t("Your account cannot watch cameras.");
    $("#tv-cards").replaceChildren(h("p", { class: "tv-empty" }, t("Your account cannot watch cameras.")));
    return;
  }
  try {
    state.cameras = await api("/cameras");
  } catch {
    note.textContent = t("Could not load the cameras.");
    return;
  }
  note.textContent = t("Cameras: {count}", { count: state.cameras.length });
  $("#tv-cards").replaceChildren(...(state.cameras.length ? state.cameras.map(card)
    : [h("p", { class: "tv-empty" }, t("No cameras are shared with your village yet."))]));
}

show("home");
focus($("#tile-cameras"));
load();

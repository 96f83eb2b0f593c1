// Phone app (/m): installable (manifest + service worker), the cameras this person may watch as big
// tap targets, tap -> live view. The view is a hash route (#camera-ID), so the phone's Back button works.
// The alarm button and the mobilization tasks of volunteers and grid workers: alarm-mobile.js.

import { initMobileAlarm } from "./alarm-mobile.js";
import { api, can, me, wireCommon } from "./api.js";
import { $, h } from "./dom.js";
import { kindLabel, localName, t, yesNo } from "./i18n.js";
import { openLive } from "./live.js";
import { watchStill } from "./stills.js";

wireCommon();

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js", { scope: "/m" }).catch((err) => {
    console.warn("service worker not registered", err);
  });
}

// "Install app" button where the browser offers installation.
let installPrompt = null;
window.addEventListener("beforeinstallprompt", (e) => {
  e.preventDefault();
  installPrompt = e;
  $("#m-install").hidden = false;
});
$("#m-install").addEventListener("click", async () => {
  if (!installPrompt) return;
  installPrompt.prompt();
  await installPrompt.userChoice.catch(() => null);
  installPrompt = null;
  $("#m-install").hidden = true;
});

initMobileAlarm();

const state = { cameras: [], player: null, seq: 0 };
const list = $("#m-list");

/** A row's icon box becomes a 16:9 picture of the camera while it has one (stills.js). */
function widen(slot, shown) {
  slot.style.width = shown ? "82px" : "";
}

function row(cam) {
  return h("li", {}, h("a", { class: `m-cam kind-${cam.kind}`, href: `#camera-${cam.id}`, dataset: { cameraId: cam.id } },
    watchStill(h("span", { class: "m-cam-icon", "aria-hidden": "true" },
      h("svg:svg", { viewBox: "0 0 48 48", width: 26, height: 26 },
        h("svg:path", { d: "M6 15h24v18H6zM30 21l12-7v20l-12-7z", fill: "none", stroke: "currentColor",
          "stroke-width": "3.5", "stroke-linejoin": "round" }))), cam.id, widen),
    h("span", { class: "m-cam-main" },
      h("span", { class: "m-cam-name" }, localName(cam)),
      h("span", { class: "m-cam-sub" }, `${kindLabel(cam.kind)}${cam.ptz ? ` · ${t("PTZ")}` : ""}`)),
    h("span", { class: "m-chevron", "aria-hidden": "true" }, "›")));
}

function renderList() {
  const q = $("#m-q").value.trim().toLowerCase();
  const shown = state.cameras.filter((c) => !q || localName(c).toLowerCase().includes(q)
    || c.name.toLowerCase().includes(q) || (c.name_en || "").toLowerCase().includes(q));
  $("#m-count").textContent = String(shown.length);
  list.replaceChildren(...(shown.length ? shown.map(row)
    : [h("li", { class: "empty" }, state.cameras.length ? t("No cameras match.")
      : t("No cameras are shared with your village yet."))]));
}
$("#m-q").addEventListener("input", renderList);

async function load() {
  if (!can("list_cameras")) {
    $("#m-q").hidden = true;
    list.replaceChildren(h("li", { class: "empty" }, t("Your account cannot watch cameras.")));
    return;
  }
  try {
    state.cameras = await api("/cameras");
  } catch {
    list.replaceChildren(h("li", { class: "empty" }, t("Could not load the cameras.")));
    return;
  }
  renderList();
  route();
}

function closePlayer() {
  state.seq += 1;
  if (state.player) state.player.close();
  state.player = null;
}

async function showCamera(id) {
  const cam = state.cameras.find((c) => c.id === id);
  if (!cam) { location.hash = ""; return; }
  $("#m-home").hidden = true;
  $("#m-view").hidden = false;
  window.scrollTo(0, 0);
  $("#m-view-name").textContent = localName(cam);
  const field = (label, value) => [h("dt", {}, label), h("dd", {}, value)];
  $("#m-view-fields").replaceChildren(...[
    field(t("Kind"), kindLabel(cam.kind)),
    field(t("Village"), localName({ name: cam.region_name,
      name_en: me && cam.region_id === me.region_id ? me.region_name_en : "" })),
    field(t("PTZ"), cam.ptz ? t("PTZ (can turn and zoom)") : t("Fixed")),
    field(t("Public view"), yesNo(cam.public_view)),
  ].flat());
  closePlayer();
  const seq = state.seq;
  const player = await openLive(id, { host: $("#m-player"), connecting: true, current: () => seq === state.seq,
    onRetry: () => showCamera(id), unavailable: t("Live video not available") });
  if (player) state.player = player;
}

function route() {
  const m = /^#camera-(\d+)$/.exec(location.hash);
  if (m && state.cameras.length) {
    showCamera(Number(m[1]));
  } else {
    closePlayer();
    $("#m-view").hidden = true;
    $("#m-home").hidden = false;
  }
}
window.addEventListener("hashchange", route);
$("#m-back").addEventListener("click", () => {
  if (history.length > 1 && location.hash) history.back();
  else location.hash = "";
});

load();

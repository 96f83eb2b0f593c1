// PTZ controls for a camera flagged `ptz` in the camera detail: arrows and zoom (held down: the camera
// moves; let go: it stops), presets (set / call / delete) and a cruise that calls presets in turn.
// Commands go to POST /gb28181/cameras/{id}/ptz. The first operator holds the camera for 60 s, renewed
// by each command; anyone else is told who holds it (409 ptz_held) in the panel's status line.

import { api, can } from "../api.js";
import { $, h } from "../dom.js";
import { t } from "../i18n.js";

const SPEED = 128;
const MOVES = [
  ["up_left", "↖"], ["up", "↑"], ["up_right", "↗"],
  ["left", "←"], null, ["right", "→"],
  ["down_left", "↙"], ["down", "↓"], ["down_right", "↘"],
];
let cruise = null; // { cameraId, timer } — one cruise at a time, stopped when its camera's panel goes
// The detail is drawn again when a fresher copy of the camera arrives (cameras.js `select`), so an answer
// may come back after its panel was replaced: messages go to the panel on screen for that camera, and a
// new panel shows the camera's last message of the past minute. `current`: the panel on screen.
const SAID_FOR_MS = 60_000;
const lastSaid = new Map(); // camera id -> { text, kind, at }
let current = null; // { cameraId, status, panel }

function loadCss() {
  if ($("link[data-ptz-css]")) return;
  document.head.append(h("link", { rel: "stylesheet", href: "/static/css/ptz.css", "data-ptz-css": "" }));
}

function storageKey(cameraId) { return `xl-ptz-presets-${cameraId}`; }

function knownPresets(cameraId) {
  try {
    const list = JSON.parse(localStorage.getItem(storageKey(cameraId)) || "[]");
    return Array.isArray(list) ? list.filter((n) => Number.isInteger(n) && n >= 1 && n <= 255) : [];
  } catch { return []; }
}

function saveKnown(cameraId, list) {
  localStorage.setItem(storageKey(cameraId), JSON.stringify([...new Set(list)].sort((a, b) => a - b)));
}

function stopCruise() {
  if (cruise) clearInterval(cruise.timer);
  cruise = null;
}

/** The PTZ panel for `cam`, or null when it has no PTZ or the user may not move cameras. */
export function ptzPanel(cam) {
  if (!cam.ptz || !can("control_ptz")) return null;
  loadCss();
  if (cruise && cruise.cameraId !== cam.id) stopCruise(); // drawn again for the same camera: it goes on
  const status = h("p", { class: "ptz-status muted", id: "ptz-status", role: "status", "aria-live": "polite" });
  const paint = (el, text, kind) => { el.textContent = text; el.className = `ptz-status ${kind || "muted"}`; };
  const said = lastSaid.get(cam.id);
  if (said && Date.now() - said.at < SAID_FOR_MS) paint(status, said.text, said.kind);
  const say = (text, kind = "") => {
    lastSaid.set(cam.id, { text, kind, at: Date.now() });
    if (current && current.cameraId === cam.id) paint(current.status, text, kind);
  };

  async function send(action, extra = {}) {
    try {
      const out = await api(`/gb28181/cameras/${cam.id}/ptz`, {
        method: "POST", body: { action, speed: SPEED, ...extra }, quiet: true,
      });
      say(t("You control this camera until {time}.", { time: new Date(out.until).toLocaleTimeString() }), "ok");
      return true;
    } catch (err) {
      if (err.code === "ptz_held") {
        const who = String(err.detail || "").split(" ")[0] || "?";
        say(t("{who} is controlling this camera now. Try again later.", { who }), "warn");
      } else {
        say(err.message || String(err), "warn");
      }
      stopCruise();
      return false;
    }
  }

  function holdButton(action, label, title) {
    let moving = false;
    const start = (ev) => { ev.preventDefault(); moving = true; send(action); };
    const stop = () => { if (moving) { moving = false; send("stop"); } };
    return h("button", {
      type: "button", class: "btn ptz-btn", "data-ptz": action, title, "aria-label": title,
      onpointerdown: start, onpointerup: stop, onpointerleave: stop, onpointercancel: stop,
      onkeydown: (ev) => {
        if ((ev.key === "Enter" || ev.key === " ") && !ev.repeat) { ev.preventDefault(); moving = true; send(action); }
      },
      onkeyup: (ev) => { if (ev.key === "Enter" || ev.key === " ") stop(); },
      onblur: stop,
    }, label);
  }

  const names = {
    up_left: t("Up left"), up: t("Up"), up_right: t("Up right"), left: t("Left"), right: t("Right"),
    down_left: t("Down left"), down: t("Down"), down_right: t("Down right"),
  };
  const pad = h("div", { class: "ptz-pad", role: "group", "aria-label": t("Pan and tilt") },
    MOVES.map((m) => (m ? holdButton(m[0], m[1], names[m[0]]) : h("span", { class: "ptz-centre" }))));
  const zoom = h("div", { class: "ptz-zoom", role: "group", "aria-label": t("Zoom") },
    holdButton("zoom_in", "+", t("Zoom in")), holdButton("zoom_out", "−", t("Zoom out")));

  const number = h("input", {
    type: "number", min: 1, max: 255, value: 1, class: "field ptz-number", id: "ptz-preset",
    "aria-label": t("Preset number"),
  });
  const chips = h("div", { class: "ptz-chips", id: "ptz-known" });
  const preset = () => {
    const n = Number(number.value);
    if (!Number.isInteger(n) || n < 1 || n > 255) { say(t("A preset is a number from 1 to 255."), "warn"); return 0; }
    return n;
  };
  function renderChips() {
    chips.replaceChildren(...knownPresets(cam.id).map((n) => h("button", {
      type: "button", class: "chip ptz-chip", "data-preset": n, title: t("Call preset {n}", { n }),
      onclick: () => { number.value = n; send("preset_call", { preset: n }); },
    }, String(n))));
  }
  const presetButton = (action, label, after) => h("button", {
    type: "button", class: "btn btn-sm", id: `ptz-${action.replace("_", "-")}`,
    onclick: async () => {
      const n = preset();
      if (n && await send(action, { preset: n })) after(n);
    },
  }, label);
  const presets = h("div", { class: "ptz-presets" },
    h("label", { class: "lbl", for: "ptz-preset" }, t("Preset")),
    h("div", { class: "ptz-row" }, number,
      presetButton("preset_call", t("Go to"), () => {}),
      presetButton("preset_set", t("Save here"), (n) => { saveKnown(cam.id, [...knownPresets(cam.id), n]); renderChips(); }),
      presetButton("preset_delete", t("Delete"), (n) => {
        saveKnown(cam.id, knownPresets(cam.id).filter((k) => k !== n)); renderChips();
      })),
    chips);

  const tour = h("input", {
    class: "field", id: "ptz-cruise-list", "aria-label": t("Presets of the cruise"), placeholder: "1, 2, 3",
  });
  const dwell = h("input", {
    type: "number", min: 3, max: 60, value: 10, class: "field ptz-number", id: "ptz-cruise-dwell",
    "aria-label": t("Seconds at each preset"),
  });
  const cruising = Boolean(cruise && cruise.cameraId === cam.id);
  const cruiseBtn = h("button", { type: "button", class: "btn btn-sm", id: "ptz-cruise", "aria-pressed": String(cruising) },
    cruising ? t("Stop cruise") : t("Start cruise"));
  cruiseBtn.addEventListener("click", () => {
    if (cruise && cruise.cameraId === cam.id) {
      stopCruise();
      cruiseBtn.textContent = t("Start cruise");
      cruiseBtn.setAttribute("aria-pressed", "false");
      say(t("Cruise stopped."));
      return;
    }
    const list = (tour.value.trim() ? tour.value.split(/[\s,，]+/).map(Number) : knownPresets(cam.id))
      .filter((n) => Number.isInteger(n) && n >= 1 && n <= 255);
    const seconds = Math.min(60, Math.max(3, Number(dwell.value) || 10));
    if (list.length < 2) { say(t("A cruise needs at least two presets."), "warn"); return; }
    let i = 0;
    const step = () => {
      const shown = current && current.cameraId === cam.id && document.body.contains(current.panel);
      if (!shown) { stopCruise(); return; } // its camera's panel went (another camera, or the page)
      send("preset_call", { preset: list[i % list.length] });
      i += 1;
    };
    stopCruise();
    cruise = { cameraId: cam.id, timer: setInterval(step, seconds * 1000) };
    step();
    cruiseBtn.textContent = t("Stop cruise");
    cruiseBtn.setAttribute("aria-pressed", "true");
  });
  const cruiseBox = h("div", { class: "ptz-cruise" },
    h("label", { class: "lbl", for: "ptz-cruise-list" }, t("Cruise over presets")),
    h("div", { class: "ptz-row" }, tour, dwell, cruiseBtn));

  const panel = h("section", { class: "ptz", id: "ptz", "aria-labelledby": "ptz-title" },
    h("h3", { id: "ptz-title", class: "ptz-title" }, t("PTZ control")),
    h("div", { class: "ptz-controls" }, pad, zoom),
    presets, cruiseBox, status);
  current = { cameraId: cam.id, status, panel };
  renderChips();
  return panel;
}

// The privacy mask editor (templates/mask_editor.html): areas are polygons in fractions of the picture
// (0..1 from the top-left), drawn by clicking on the still; the whole drawing of one set is saved with
// one PUT /api/v1/cameras/{id}/masks?preset=N (audited on the server as camera.masks). A PTZ dome has
// a set per preset besides its default set (preset 0): the preset bar picks the set being drawn, says
// whether it is in force, and can turn the camera there so the still shows what the set covers.
import { api, can, toast, wireCommon } from "../api.js";
import { $, clear, h } from "../dom.js";
import { t } from "../i18n.js";

wireCommon();
const root = $("#mask-editor");
const cameraId = Number(root.dataset.camera);
const overlay = $("#me-overlay");
const list = $("#me-list");
const still = $("#me-still");
const presetSelect = $("#me-preset");
const note = $("#me-preset-note");
const where = $("#me-position");
let areas = [];  // [{label, points: [[x, y], ...]}]
let drawing = [];  // the open area's points
let preset = 0;  // the set on screen: 0 the default, 1..255 a preset
let dirty = false;  // changes not saved yet
let known = { ptz: false, sets: [], position: null };

const round = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;
const time = (iso) => new Date(iso).toLocaleString();

function draw() {
  clear(overlay);
  for (const area of areas) {
    overlay.append(h("svg:polygon", { class: "me-area", points: area.points.map((p) => p.join(",")).join(" ") }));
  }
  if (drawing.length) {
    overlay.append(h("svg:polyline", { class: "me-open", points: drawing.map((p) => p.join(",")).join(" ") }));
  }
  clear(list);
  areas.forEach((area, i) => {
    list.append(h("li", { class: "me-item", dataset: { area: String(i) } },
      h("input", { class: "field", value: area.label, "aria-label": t("Name of the area"), maxlength: "100",
        placeholder: t("e.g. window of No. 12"), oninput: (e) => { area.label = e.target.value; dirty = true; } }),
      h("span", {}, t("{n} corners", { n: area.points.length })),
      h("button", { type: "button", class: "btn btn-sm", onclick: () => { areas.splice(i, 1); dirty = true; draw(); } },
        t("Delete"))));
  });
}

/** Presets the PTZ panel of the console saved in this browser (ptz.js), offered beside the drawn sets. */
function panelPresets() {
  try {
    const found = JSON.parse(localStorage.getItem(`xl-ptz-presets-${cameraId}`) || "[]");
    return Array.isArray(found) ? found.filter((n) => Number.isInteger(n) && n >= 1 && n <= 255) : [];
  } catch { return []; }
}

/** The preset's set as the server knows it, or undefined when none was ever drawn (a preset saved on
 * the camera has a row before anyone draws its set). */
function drawn(n) {
  return known.sets.find((s) => s.preset === n && s.drawn_at);
}

function describeSet() {
  if (!known.ptz) return;
  const set = drawn(preset);
  let text = t("Default set: in force while the platform has not turned the camera to a preset.");
  let warn = false;
  if (preset && !set) {
    text = t("Preset {n} has no mask set yet: at this preset, everyone who may not lift masks sees the whole picture filled. Draw its areas, or save an empty set if nothing there is private.", { n: preset });
    warn = true;
  } else if (preset && !set.in_force) {
    text = t("Preset {n} was saved again on the camera after its areas were drawn: the whole picture stays filled at this preset until this set is saved again.", { n: preset });
    warn = true;
  } else if (preset) {
    text = t("Preset {n}: {count} areas, drawn {time}; in force whenever the camera is sent to this preset.", { n: preset, count: set.areas, time: time(set.drawn_at) });
  }
  note.textContent = text;
  note.classList.toggle("warn", warn);
  note.dataset.state = !preset ? "default" : !set ? "none" : set.in_force ? "in-force" : "lapsed";
  const pos = known.position;
  where.textContent = !pos ? t("The platform has not turned this camera yet.")
    : pos.preset === null ? t("The camera was moved by hand ({time}): the masked picture is filled whole until a preset is called.", { time: time(pos.at) })
      : t("The camera points at preset {n} (since {time}).", { n: pos.preset, time: time(pos.at) });
}

function fillPresets() {
  const numbers = new Set([...known.sets.map((s) => s.preset), ...panelPresets()]);
  if (preset) numbers.add(preset);
  const options = [h("option", { value: "0" }, t("Default set"))];
  for (const n of [...numbers].sort((a, b) => a - b)) {
    const set = drawn(n);
    const state = !set ? t("no set") : set.in_force ? t("{count} areas", { count: set.areas }) : t("to draw again");
    options.push(h("option", { value: String(n) }, t("Preset {n} ({state})", { n, state })));
  }
  presetSelect.replaceChildren(...options);
  presetSelect.value = String(preset);
}

function show(out) {
  preset = out.preset;
  known = { ptz: out.ptz, sets: out.sets || [], position: out.position };
  areas = out.masks.map((m) => ({ label: m.label, points: m.points }));
  drawing = [];
  dirty = false;
  draw();
  root.dataset.preset = String(preset);
  $("#me-presets").hidden = !out.ptz;
  $("#me-goto").hidden = !(out.ptz && preset && can("control_ptz"));
  if (out.ptz) { fillPresets(); describeSet(); }
}

async function load(n) {
  if (dirty && !window.confirm(t("Leave this set without saving its changes?"))) {
    presetSelect.value = String(preset);
    return;
  }
  root.dataset.ready = "";
  show(await api(`/cameras/${cameraId}/masks`, { query: { preset: n } }));
  root.dataset.ready = "1";
}

overlay.addEventListener("click", (e) => {
  const box = overlay.getBoundingClientRect();
  drawing.push([round((e.clientX - box.left) / box.width), round((e.clientY - box.top) / box.height)]);
  dirty = true;
  draw();
});

$("#me-finish").addEventListener("click", () => {
  if (drawing.length < 3) { toast(t("An area needs at least three corners."), "error"); return; }
  areas.push({ label: "", points: drawing });
  drawing = [];
  draw();
});

$("#me-undo").addEventListener("click", () => { drawing.pop(); draw(); });

$("#me-save").addEventListener("click", async () => {
  if (drawing.length >= 3) { areas.push({ label: "", points: drawing }); drawing = []; }
  const out = await api(`/cameras/${cameraId}/masks`, { method: "PUT", body: { masks: areas }, query: { preset } });
  show(out);
  toast(t("Privacy masks saved; they apply at once and are recorded in the audit trail."), "ok");
  root.dataset.saved = String(areas.length);
});

presetSelect.addEventListener("change", () => load(Number(presetSelect.value)));

$("#me-add-preset").addEventListener("click", () => {
  const n = Number($("#me-new-preset").value);
  if (!Number.isInteger(n) || n < 1 || n > 255) { toast(t("A preset is a number from 1 to 255."), "error"); return; }
  load(n);
});

$("#me-goto").addEventListener("click", async () => {
  await api(`/gb28181/cameras/${cameraId}/ptz`, { method: "POST", body: { action: "preset_call", preset } });
  toast(t("The camera turns to preset {n}; the picture follows in a few seconds.", { n: preset }), "ok");
  // the still is the camera's latest keyframe: fetch it again once the dome has arrived
  setTimeout(() => { still.src = `${still.src.split("?")[0]}?at=${Date.now()}`; load(preset); }, 3000);
});

load(0);

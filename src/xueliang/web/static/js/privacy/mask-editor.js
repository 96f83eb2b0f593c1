// The privacy mask editor (templates/mask_editor.html): areas are polygons in fractions of the picture
// (0..1 from the top-left), drawn by clicking on the still; the whole drawing is saved with one PUT
// /api/v1/cameras/{id}/masks (audited on the server as camera.masks).
import { api, toast, wireCommon } from "../api.js";
import { $, clear, h } from "../dom.js";
import { t } from "../i18n.js";

wireCommon();
const root = $("#mask-editor");
const cameraId = Number(root.dataset.camera);
const overlay = $("#me-overlay");
const list = $("#me-list");
let areas = [];  // [{label, points: [[x, y], ...]}]
let drawing = [];  // the open area's points

const round = (v) => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;

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
        placeholder: t("e.g. window of No. 12"), oninput: (e) => { area.label = e.target.value; } }),
      h("span", {}, t("{n} corners", { n: area.points.length })),
      h("button", { type: "button", class: "btn btn-sm", onclick: () => { areas.splice(i, 1); draw(); } }, t("Delete"))));
  });
}

overlay.addEventListener("click", (e) => {
  const box = overlay.getBoundingClientRect();
  drawing.push([round((e.clientX - box.left) / box.width), round((e.clientY - box.top) / box.height)]);
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
  const out = await api(`/cameras/${cameraId}/masks`, { method: "PUT", body: { masks: areas } });
  areas = out.masks.map((m) => ({ label: m.label, points: m.points }));
  draw();
  toast(t("Privacy masks saved; they apply at once and are recorded in the audit trail."), "ok");
  root.dataset.saved = String(areas.length);
});

api(`/cameras/${cameraId}/masks`).then((out) => {
  areas = out.masks.map((m) => ({ label: m.label, points: m.points }));
  draw();
  root.dataset.ready = "1";
});

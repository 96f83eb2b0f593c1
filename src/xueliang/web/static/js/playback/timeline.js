// The timeline under the tiles: recorded spans, gaps and evidence locks of each picked camera (24 h down
// to a minute), the marked range and the playhead; click to seek, wheel to zoom, arrows to pan.

import { api } from "../api.js";
import { $, $$, debounce } from "../dom.js";
import { t } from "../i18n.js";
import { DAY, S, clockText, iso, now, shortFmt } from "./state.js";

const COLORS = { bg: "#eef1f5", rec: "#2b8a3e", gap: "#e03131", lock: "#f59f00", mark: "rgba(15,111,209,.25)", head: "#0b2540" };

/** Pans the view so that `wall` is in it. */
export function keepInView(wall) {
  const span = S.view.to - S.view.from;
  if (wall < S.view.from || wall > S.view.to) setView(wall - span / 2, span);
}

/** Shows `span` seconds from `from` (kept within the day) and reloads the timelines. */
export function setView(from, span) {
  const width = Math.max(60, Math.min(DAY, span));
  const start = Math.max(S.day0, Math.min(S.day0 + DAY - width, from));
  S.view = { from: start, to: start + width };
  loadTimelines();
  drawTimeline();
}

/** Reads the picked cameras' timelines for the view (debounced: zooming asks once). */
export const loadTimelines = debounce(async () => {
  const { from, to } = S.view;
  await Promise.all(S.picked.map(async (id) => {
    try {
      const line = await api(`/cameras/${id}/timeline`, { query: { from: iso(from), to: iso(to) }, quiet: true });
      S.lines.set(id, { ...line, from, to });
    } catch {
      S.lines.delete(id);
    }
  }));
  drawTimeline();
}, 150);

export function drawTimeline() {
  const canvas = $("#pb-timeline");
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
  if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  const { from, to } = S.view;
  const x = (wall) => ((wall - from) / (to - from)) * width;
  const axis = 18;
  const rows = Math.max(1, S.picked.length);
  const rowH = (height - axis) / rows;
  S.picked.forEach((id, row) => {
    const top = axis + row * rowH + 2;
    const hgt = rowH - 4;
    g.fillStyle = COLORS.bg;
    g.fillRect(0, top, width, hgt);
    const line = S.lines.get(id);
    if (!line) return;
    g.fillStyle = COLORS.rec;
    for (const s of line.spans) {
      const a = x(Date.parse(s.start) / 1000);
      g.fillRect(a, top, Math.max(1, x(Date.parse(s.end) / 1000) - a), hgt);
    }
    g.fillStyle = COLORS.gap;
    for (const gap of line.gaps) {
      const a = x(Date.parse(gap.start) / 1000);
      const b = x(gap.end ? Date.parse(gap.end) / 1000 : Math.min(Date.now() / 1000, to));
      g.fillRect(a, top + hgt * 0.35, Math.max(1, b - a), hgt * 0.3);
    }
    g.fillStyle = COLORS.lock;
    for (const lock of line.locks) {
      const a = x(Date.parse(lock.start) / 1000);
      g.fillRect(a, top, Math.max(2, x(Date.parse(lock.end) / 1000) - a), 4);
    }
  });
  if (S.mark.from !== null) {
    const a = x(S.mark.from);
    const b = x(S.mark.to ?? S.mark.from);
    g.fillStyle = COLORS.mark;
    g.fillRect(Math.min(a, b), axis, Math.max(2, Math.abs(b - a)), height - axis);
  }
  drawAxis(g, width, axis, x);
  const head = x(now());
  g.fillStyle = COLORS.head;
  g.fillRect(head - 1, 0, 2, height);
}

function drawAxis(g, width, axis, x) {
  const span = S.view.to - S.view.from;
  const step = [60, 300, 900, 1800, 3600, 7200, 10800].find((s) => span / s <= 12) || 10800;
  g.fillStyle = "#5f6b7a";
  g.font = "11px system-ui, sans-serif";
  g.textBaseline = "top";
  const first = Math.ceil((S.view.from - S.day0) / step) * step + S.day0;
  for (let tick = first; tick <= S.view.to; tick += step) {
    const px = x(tick);
    g.fillRect(px, axis - 5, 1, 5);
    g.fillText(shortFmt.format(new Date(tick * 1000)), px + 2, 2);
  }
  g.fillRect(0, axis - 1, width, 1);
}

function timeAtPointer(event) {
  const canvas = $("#pb-timeline");
  const rect = canvas.getBoundingClientRect();
  return S.view.from + ((event.clientX - rect.left) / rect.width) * (S.view.to - S.view.from);
}

function describeAt(wall) {
  for (const id of S.picked) {
    const line = S.lines.get(id);
    if (!line) continue;
    for (const gap of line.gaps) {
      const a = Date.parse(gap.start) / 1000;
      const b = gap.end ? Date.parse(gap.end) / 1000 : Infinity;
      if (a <= wall && wall < b) return `${clockText(wall)} · ${t("Gap")}: ${gap.reason}`;
    }
  }
  return clockText(wall);
}

/** Mouse and keys on the timeline; `seek(wall)` moves every tile there. */
export function wireTimeline({ seek }) {
  const canvas = $("#pb-timeline");
  canvas.addEventListener("click", (e) => seek(timeAtPointer(e)));
  canvas.addEventListener("mousemove", (e) => { $("#pb-hover").textContent = describeAt(timeAtPointer(e)); });
  canvas.addEventListener("mouseleave", () => { $("#pb-hover").textContent = ""; });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const at = timeAtPointer(e);
    const span = (S.view.to - S.view.from) * (e.deltaY > 0 ? 1.5 : 1 / 1.5);
    const share = (at - S.view.from) / (S.view.to - S.view.from);
    setView(at - share * span, span);
  }, { passive: false });
  canvas.addEventListener("keydown", (e) => {
    const span = S.view.to - S.view.from;
    if (e.key === "ArrowLeft") setView(S.view.from - span / 4, span);
    else if (e.key === "ArrowRight") setView(S.view.from + span / 4, span);
    else return;
    e.preventDefault();
  });
  for (const btn of $$("[data-span]")) {
    btn.addEventListener("click", () => {
      const span = Number(btn.dataset.span);
      setView(now() - span / 2, span);
    });
  }
  window.addEventListener("resize", drawTimeline);
}

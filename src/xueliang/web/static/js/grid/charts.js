// Small SVG charts of our own for the grid statistics (no chart library, no build step): grouped or
// stacked bars over periods (days or ISO weeks) or over places/workers. Each chart is a <figure> with a
// title, the SVG (each bar has a <title> tooltip with its figure), a legend, and the figures as a
// visually plain table under a <details> for screen readers and copying. Colours come from the series.

import { h } from "../dom.js";
import { t } from "../i18n.js";

const W = 560;
const H = 180;
const PAD = { left: 34, right: 8, top: 10, bottom: 34 };

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v, unit) {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  const s = Number.isInteger(v) ? String(v) : v.toFixed(1);
  return unit ? `${s}${unit}` : s;
}

/**
 * labels: the x axis (strings); series: [{ key, label, color, values: [number|null] }]
 * stacked: bars of a label on top of each other; max: a fixed top (e.g. 100 for percentages).
 */
export function barChart({ id, title, labels, series, stacked = false, unit = "", max = null }) {
  const totals = labels.map((_, i) => series.reduce((n, s) => n + (s.values[i] || 0), 0));
  const top = max !== null ? max : niceMax(Math.max(0, ...(stacked ? totals : series.flatMap((s) => s.values.map((v) => v || 0)))));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const gw = plotW / Math.max(labels.length, 1);
  const y = (v) => PAD.top + plotH - (Math.max(0, v) / top) * plotH;
  const nodes = [];
  for (const frac of [0, 0.5, 1]) {
    const yy = y(top * frac);
    nodes.push(h("svg:line", { x1: PAD.left, x2: W - PAD.right, y1: yy, y2: yy, stroke: "#dfe3e8", "stroke-width": 1 }));
    nodes.push(h("svg:text", { x: PAD.left - 4, y: yy + 4, "font-size": 10, fill: "#5f6b7a", "text-anchor": "end" }, fmt(top * frac, unit)));
  }
  const bw = stacked ? Math.min(28, gw - 6) : Math.min(16, (gw - 6) / Math.max(series.length, 1));
  labels.forEach((label, i) => {
    let base = 0;
    series.forEach((s, j) => {
      const v = s.values[i];
      if (v === null || v === undefined) return;
      const x = PAD.left + i * gw + (stacked ? (gw - bw) / 2 : (gw - bw * series.length) / 2 + j * bw);
      const y0 = stacked ? y(base + v) : y(v);
      const y1 = stacked ? y(base) : y(0);
      if (stacked) base += v;
      nodes.push(h("svg:rect", { x, y: y0, width: Math.max(1, bw - (stacked ? 0 : 2)), height: Math.max(0, y1 - y0), fill: s.color,
        "data-series": s.key, "data-label": label, "data-value": v },
      h("svg:title", {}, `${label} · ${s.label}: ${fmt(v, unit)}`)));
    });
    const every = Math.ceil(labels.length / 12);
    if (i % every === 0) {
      nodes.push(h("svg:text", { x: PAD.left + i * gw + gw / 2, y: H - PAD.bottom + 14, "font-size": 10, fill: "#5f6b7a",
        "text-anchor": "middle" }, label.length > 10 ? `${label.slice(0, 9)}…` : label));
    }
  });
  const svg = h("svg:svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "xMinYMid meet", class: "g-chart-svg", role: "img",
    "aria-label": title }, ...nodes);
  const legend = h("div", { class: "g-legend" }, ...series.map((s) => h("span", {}, h("i", { style: `background:${s.color}` }), s.label)));
  const figures = h("details", { class: "g-chart-figures" }, h("summary", {}, t("Figures")),
    h("table", { class: "g-table" }, h("thead", {}, h("tr", {}, h("th", {}, ""), ...series.map((s) => h("th", {}, s.label)))),
      h("tbody", {}, ...labels.map((label, i) => h("tr", {}, h("td", {}, label), ...series.map((s) => h("td", {}, fmt(s.values[i], unit))))))));
  return h("figure", { class: "g-chart-card", dataset: { chart: id } }, h("figcaption", {}, title), svg, legend, figures);
}

/** A CSV file (UTF-8 with BOM, so spreadsheet programs read the Chinese) offered for download. */
export function csvLink(name, head, rows, text) {
  const quote = (v) => {
    const s = v === null || v === undefined ? "" : String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const body = [head, ...rows].map((r) => r.map(quote).join(",")).join("\r\n");
  const url = URL.createObjectURL(new Blob([`\ufeff${body}\r\n`], { type: "text/csv;charset=utf-8" }));
  return h("a", { class: "btn btn-sm", href: url, download: name }, text);
}

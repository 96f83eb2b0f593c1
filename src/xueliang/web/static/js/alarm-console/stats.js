// Per-station figures of the alarm records: time to acknowledge (p50 / p90 / p98.5) as bars and a table.

import { duration } from "../alarm-client.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";

function pct(x) { return x === null || x === undefined ? "—" : `${Math.round(x * 1000) / 10}%`; }
function secs(x) { return x === null || x === undefined ? "—" : duration(x); }

/** Bars of the time to acknowledge (p50 / p90 / p98.5) per station, with the 30 s and 60 s yardsticks. */
function statsChart(rows) {
  const W = 360;
  const rowH = 58;
  const left = 78;
  const H = rows.length * rowH + 34;
  const max = Math.max(90, ...rows.flatMap((r) => [r.tta_p50_s || 0, r.tta_p90_s || 0, r.tta_p985_s || 0])) * 1.1;
  const x = (s) => left + ((W - left - 12) * s) / max;
  const svg = h("svg:svg", { viewBox: `0 0 ${W} ${H}`, class: "stats-chart", role: "img",
    "aria-label": t("Time to acknowledge per station") });
  for (const s of [30, 60]) {
    svg.append(h("svg:line", { x1: x(s), x2: x(s), y1: 4, y2: H - 22, class: "yardstick" }),
      h("svg:text", { x: x(s), y: H - 8, "text-anchor": "middle", class: "axis" }, t("{n} s", { n: s })));
  }
  rows.forEach((r, i) => {
    const y0 = 8 + i * rowH;
    svg.append(h("svg:text", { x: 0, y: y0 + 26, class: "station" }, r.station_name));
    [["tta_p50_s", "p50"], ["tta_p90_s", "p90"], ["tta_p985_s", "p98.5"]].forEach(([key, label], j) => {
      const v = r[key];
      const y = y0 + j * 16;
      svg.append(h("svg:rect", { x: left, y, width: v === null ? 0 : Math.max(1, x(v) - left), height: 12, rx: 2,
        class: `bar bar-${label.replace(".", "")}` }, h("svg:title", {}, `${r.station_name} ${label}: ${secs(v)}`)));
      svg.append(h("svg:text", { x: (v === null ? left : x(v)) + 4, y: y + 10, class: "bar-label" },
        `${label} ${v === null ? "—" : secs(v)}`));
    });
  });
  return svg;
}

/** Fills `box` with the chart and the table of `rows` (GET /alarms/stats). */
export function renderStats(box, rows) {
  if (!rows.length) { box.replaceChildren(h("p", { class: "empty" }, t("No alarms in this period."))); return; }
  box.replaceChildren(statsChart(rows),
    h("div", { class: "table-wrap" }, h("table", { class: "table stats-table" },
      h("thead", {}, h("tr", {}, h("th", {}, t("Station")), h("th", { class: "num" }, t("Alarms")),
        h("th", { class: "num" }, "p50"), h("th", { class: "num" }, "p90"), h("th", { class: "num" }, "p98.5"),
        h("th", { class: "num" }, t("≤30 s")), h("th", { class: "num" }, t("≤60 s")),
        h("th", { class: "num" }, t("False")), h("th", { class: "num" }, t("Escalated")))),
      h("tbody", {}, rows.map((r) => h("tr", { dataset: { stationId: r.station_region_id } },
        h("td", {}, r.station_name), h("td", { class: "num" }, r.alarms),
        h("td", { class: "num" }, secs(r.tta_p50_s)), h("td", { class: "num" }, secs(r.tta_p90_s)),
        h("td", { class: "num" }, secs(r.tta_p985_s)), h("td", { class: "num" }, pct(r.acked_within_30s)),
        h("td", { class: "num" }, pct(r.acked_within_60s)), h("td", { class: "num" }, pct(r.false_alarm_share)),
        h("td", { class: "num" }, r.escalated)))))),
    h("p", { class: "muted stats-note" }, t("Time to acknowledge; shares are of all alarms (EN 50518 yardsticks: 30 s and 60 s). Technical alarms are not counted.")));
}

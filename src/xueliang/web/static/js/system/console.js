// The system page (/system): disk, recording health, cameras offline, and the CPU and memory of the
// machine and of each `xueliang serve` process (one, or several roles on PostgreSQL). Everything comes
// from GET /api/v1/ops/system (ops/system.py), asked again every 5 s; the page only draws it.

import { api, wireCommon } from "../api.js";
import { $, h } from "../dom.js";
import { t } from "../i18n.js";

wireCommon();

const root = $("#sys-console");
const EVERY_MS = 5000;

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = Number(n) || 0;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

function table(el, head, rows, empty) {
  el.replaceChildren(
    h("thead", {}, h("tr", {}, ...head.map((x) => h("th", {}, x)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: head.length }, empty))),
  );
}

function roleName(role) {
  return { all: t("all in one"), web: t("web"), media: t("media"), worker: t("worker") }[role] || role;
}

function draw(data) {
  const disk = data.disk || {};
  $("#sys-disk").textContent = disk.total_bytes
    ? t("{free} free of {total} ({path})", { free: bytes(disk.free_bytes), total: bytes(disk.total_bytes), path: disk.path })
    : t("No recordings volume on this process.");
  const rec = data.recording;
  $("#sys-rec").textContent = t("{n} cameras recording; {gaps} open gaps; {errors} storage errors", {
    n: rec.cameras_recording, gaps: rec.open_gaps.length, errors: rec.storage_errors.length,
  });
  table($("#sys-gaps"), [t("Camera"), t("Reason"), t("Since")],
    rec.open_gaps.map((g) => h("tr", {}, h("td", {}, String(g.camera_id)), h("td", {}, g.reason), h("td", {}, g.since))),
    t("No open gaps."));
  const cams = data.cameras;
  $("#sys-off").textContent = t("{n} of {total} enabled cameras are not online", { n: cams.offline.length, total: cams.enabled });
  table($("#sys-offline"), [t("Camera"), t("State"), t("Reason"), t("Media process")],
    cams.offline.map((c) => h("tr", { "data-camera": String(c.camera_id) },
      h("td", {}, c.name), h("td", {}, c.status), h("td", {}, c.reason), h("td", {}, c.owner))),
    t("Every enabled camera is online."));
  const m = data.machine;
  $("#sys-machine").textContent = t("{cpus} CPU cores, load {load}; memory {free} available of {total}", {
    cpus: m.cpus, load: m.load.join(" / "), free: bytes(m.memory_available_bytes), total: bytes(m.memory_total_bytes),
  });
  table($("#sys-processes"), [t("Process"), t("Role"), t("CPU"), t("Memory"), t("Cameras"), t("Last seen")],
    data.processes.map((p) => h("tr", { "data-role": p.role },
      h("td", {}, p.name), h("td", {}, roleName(p.role)), h("td", {}, `${p.cpu_percent ?? 0} %`),
      h("td", {}, bytes(p.rss_bytes)), h("td", {}, p.cameras === undefined ? "" : String(p.cameras)),
      h("td", {}, t("{s} s ago", { s: p.seen_s })))),
    t("No process has reported yet."));
  root.dataset.ready = "1";
}

async function refresh() {
  try {
    draw(await api("/ops/system", { quiet: true }));
  } catch { /* shown again on the next pass; the session's end is handled by api() */ }
}

refresh();
setInterval(refresh, EVERY_MS);

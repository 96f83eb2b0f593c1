// The /alarms page: the history of alarms in the caller's area with filters (days in the platform's time
// zone), pages, CSV export and per-station figures; a row opens the alarm's detail in a dialog.

import { alarmKindLabel, duration, sourceLabel, stateLabel } from "../alarm-client.js";
import { api } from "../api.js";
import { $, h } from "../dom.js";
import { formatDateTime, t } from "../i18n.js";
import { dayStartIso } from "../zoned-time.js";
import { initAlarmBell } from "./bell.js";
import { createDetail } from "./detail.js";
import { renderStats } from "./stats.js";
import { ackSeconds, place } from "./words.js";

export function initAlarmHistory() {
  const feed = initAlarmBell();
  const form = $("#alarm-filters");
  const body = $("#alarm-table tbody");
  const exportLink = $("#alarm-export");
  const PAGE = 50;
  const st = { offset: 0 };
  const dialog = $("#alarm-dialog");
  const detail = createDetail($("#alarm-dialog-body"), feed, {});
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());

  function filters() {
    const q = { state: form.state.value, kind: form.kind.value };
    if (form.since.value) q.since = dayStartIso(form.since.value);
    if (form.until.value) q.until = dayStartIso(form.until.value, 1); // through the end of that day
    return q;
  }

  function exportHref(q) {
    const url = new URL("/api/v1/alarms/export.csv", location.origin);
    for (const [k, v] of Object.entries(q)) if (v) url.searchParams.set(k, v);
    return url.pathname + url.search;
  }

  async function load() {
    const q = filters();
    exportLink.href = exportHref(q);
    let rows;
    try { rows = await api("/alarms", { query: { ...q, limit: PAGE + 1, offset: st.offset } }); } catch { return; }
    const more = rows.length > PAGE;
    rows = rows.slice(0, PAGE);
    body.replaceChildren(...(rows.length ? rows.map((a) => h("tr", { dataset: { alarmId: a.id }, class: `alarm-row state-${a.state}${a.escalation_level ? " escalated" : ""}`,
      onclick: () => open(a.id) },
    h("td", { class: "num" }, a.id),
    h("td", { class: "nowrap" }, formatDateTime(a.received_at)),
    h("td", {}, place(a)),
    h("td", {}, alarmKindLabel(a.kind)),
    h("td", {}, sourceLabel(a.source)),
    h("td", {}, h("span", { class: `badge alarm-state state-${a.state}` }, stateLabel(a.state)),
      a.escalation_level ? h("span", { class: "flag flag-off" }, t("Escalated")) : null),
    h("td", { class: "nowrap" }, ackSeconds(a) === null ? "—" : duration(ackSeconds(a))),
    h("td", {}, a.dispatched_to || "—")))
      : [h("tr", {}, h("td", { colspan: 8, class: "empty" }, t("No alarms match these filters.")))]));
    $("#alarm-newer").disabled = st.offset === 0;
    $("#alarm-older").disabled = !more;
    $("#alarm-page").textContent = t("Page {n}", { n: st.offset / PAGE + 1 });
  }

  async function loadStats() {
    const q = filters();
    let rows;
    try { rows = await api("/alarms/stats", { query: { since: q.since, until: q.until } }); } catch { return; }
    renderStats($("#alarm-stats"), rows);
  }

  function open(id) {
    detail.show(id);
    dialog.showModal();
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); st.offset = 0; load(); loadStats(); });
  form.addEventListener("change", () => { exportLink.href = exportHref(filters()); });
  $("#alarm-older").addEventListener("click", () => { st.offset += PAGE; load(); });
  $("#alarm-newer").addEventListener("click", () => { st.offset = Math.max(0, st.offset - PAGE); load(); });
  feed.on("change", (a, event) => { detail.changed(a, event); });
  feed.on("task", (msg) => detail.task(msg));
  load();
  loadStats();
}

// The cascade page (/cascade): each upper (provincial) platform the county node registers to, with its
// link's state, last keepalive, last error and catalog age, from GET /api/v1/gb28181/uppers (asked
// again every 5 s). The page only draws; the server keeps the links.

import { api, wireCommon } from "../api.js";
import { $, h } from "../dom.js";
import { t } from "../i18n.js";

wireCommon();

const root = $("#cascade-console");
const EVERY_MS = 5000;

function stateName(state) {
  return {
    idle: t("Not started"), registering: t("Registering"), registered: t("Registered"),
    failed: t("Failed, retrying"), disabled: t("Disabled"),
  }[state] || state;
}

/** "n s/min/h ago" from an ISO time, or "never". */
function age(iso) {
  if (!iso) return t("never");
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 120) return t("{n} s ago", { n: s });
  if (s < 7200) return t("{n} min ago", { n: Math.round(s / 60) });
  return t("{n} h ago", { n: Math.round(s / 3600) });
}

function draw(uppers) {
  const up = uppers.filter((u) => u.state === "registered").length;
  $("#cascade-summary").textContent = t("{up} of {n} upper platforms registered", { up, n: uppers.length });
  const head = [t("Platform name"), t("SIP ID"), t("Address"), t("State"), t("Last keepalive"), t("Last error"),
    t("Catalog age"), t("Shared cameras"), t("Alarms waiting")];
  const rows = uppers.map((u) => h("tr", { "data-upper": String(u.id), "data-state": u.state },
    h("td", {}, u.name),
    h("td", {}, u.sip_id),
    h("td", {}, `${u.host}:${u.port} ${u.transport}`),
    h("td", { class: `state-${u.state}` }, stateName(u.state)),
    h("td", {}, age(u.last_keepalive)),
    h("td", {}, u.last_error ? `${u.last_error} (${age(u.last_error_at)})` : ""),
    h("td", {}, age(u.catalog_at)),
    h("td", {}, String(u.shared)),
    h("td", {}, String(u.alarms_pending))));
  const table = $("#cascade-links");
  table.replaceChildren(
    h("thead", {}, h("tr", {}, ...head.map((x) => h("th", {}, x)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: head.length }, t("No upper platform is configured.")))),
  );
}

async function refresh() {
  try {
    draw(await api("/gb28181/uppers"));
    root.dataset.ready = "1";
  } finally {
    setTimeout(refresh, EVERY_MS);
  }
}

refresh();

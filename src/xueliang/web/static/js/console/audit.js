// The audit trail section: filters, pages of 50 (newest first), and the chain verification.

import { api } from "../api.js";
import { $, h } from "../dom.js";
import { formatDateTime, t } from "../i18n.js";

function actionLabel(action) {
  return {
    "auth.login": t("Logged in"),
    "auth.login_failed": t("Failed login"),
    "auth.logout": t("Logged out"),
    "camera.open": t("Opened a camera"),
    "camera.create": t("Added a camera"),
    "camera.update": t("Changed a camera"),
    "camera.delete": t("Deleted a camera"),
    "user.create": t("Created a user"),
    "user.update": t("Changed a user"),
  }[action] || action;
}

function targetLabel(type) {
  return { user: t("User"), camera: t("Camera"), region: t("Region") }[type] || type;
}

export function initAudit() {
  const PAGE = 50;
  const form = $("#audit-filters");
  const body = $("#audit-table tbody");
  const state = { before: null, history: [], page: 1 };

  async function load() {
    const query = { action: form.action.value, actor: form.actor.value.trim(), target_type: form.target_type.value,
      before_seq: state.before, limit: PAGE + 1 };
    let rows;
    try { rows = await api("/audit", { query }); } catch { return; }
    const more = rows.length > PAGE;
    rows = rows.slice(0, PAGE);
    state.last = rows.length ? rows[rows.length - 1].seq : null;
    body.replaceChildren(...(rows.length ? rows.map((r) => h("tr", { dataset: { seq: r.seq } },
      h("td", { class: "num" }, r.seq),
      h("td", { class: "nowrap" }, formatDateTime(r.at)),
      h("td", {}, r.actor || "—"),
      h("td", {}, h("span", { class: `act act-${r.action.split(".")[0]}${r.action.endsWith("failed") ? " act-bad" : ""}` },
        actionLabel(r.action)), h("code", { class: "act-code" }, r.action)),
      h("td", {}, r.target_type ? `${targetLabel(r.target_type)} #${r.target_id}` : "—"),
      h("td", {}, h("code", {}, r.address || "—")),
      h("td", { class: "detail-cell" }, Object.entries(r.detail || {}).map(([k, v]) =>
        h("span", { class: "kv" }, h("b", {}, k), typeof v === "object" ? JSON.stringify(v) : String(v))))))
      : [h("tr", {}, h("td", { colspan: 7, class: "empty" }, t("No records match these filters.")))]));
    $("#audit-newer").disabled = state.history.length === 0;
    $("#audit-older").disabled = !more;
    $("#audit-page").textContent = t("Page {n}", { n: state.page });
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    Object.assign(state, { before: null, history: [], page: 1 });
    load();
  });
  $("#audit-older").addEventListener("click", () => {
    state.history.push(state.before);
    state.before = state.last;
    state.page += 1;
    load();
  });
  $("#audit-newer").addEventListener("click", () => {
    state.before = state.history.pop() ?? null;
    state.page -= 1;
    load();
  });
  $("#verify").addEventListener("click", async () => {
    const box = $("#verify-result");
    const btn = $("#verify");
    btn.disabled = true;
    box.hidden = false;
    box.className = "verify";
    box.textContent = t("Checking…");
    try {
      const out = await api("/audit/verify");
      box.className = `verify ${out.ok ? "verify-ok" : "verify-bad"}`;
      box.textContent = out.ok
        ? t("Chain intact: {n} records checked.", { n: out.checked })
        : t("Chain broken at record #{seq}: {reason}", { seq: out.broken_seq, reason: out.reason });
    } catch {
      box.hidden = true;
    } finally {
      btn.disabled = false;
    }
  });
  load();
}

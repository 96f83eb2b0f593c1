// Four-eyes approvals (templates/approvals.html): ask, and decide as the second person. The server
// refuses self-approval (four_eyes) and decisions outside one's scope; this page only shows the buttons
// that can work.
import { api, toast, wireCommon } from "../api.js";
import { $, clear, h } from "../dom.js";
import { formatDateTime, t } from "../i18n.js";

wireCommon();
const root = $("#approvals");
const approver = root.dataset.approver === "1";
const names = new Map();
const ACTIONS = { playback: t("Unmasked playback"), export: t("Export") };
const STATES = { pending: t("Pending"), approved: t("Approved"), denied: t("Denied"), expired: t("Expired") };

function decideCell(a) {
  if (a.state !== "pending" || a.mine || !approver) {
    return a.decided_by ? `${a.decided_by}: ${a.decision_reason}` : "";
  }
  const reason = h("input", { class: "field", maxlength: "500", placeholder: t("Reason for the decision"),
    "aria-label": t("Reason for the decision") });
  const decide = async (approve) => {
    if (!reason.value.trim()) { toast(t("Give a reason for the decision."), "error"); reason.focus(); return; }
    await api(`/recordings/approvals/${a.id}/decision`, { method: "POST", body: { approve, reason: reason.value } });
    toast(approve ? t("Approved.") : t("Denied."), "ok");
    load();
  };
  return h("span", { class: "ap-decide" }, reason,
    h("button", { type: "button", class: "btn btn-sm btn-primary", dataset: { approve: String(a.id) }, onclick: () => decide(true) }, t("Approve")),
    h("button", { type: "button", class: "btn btn-sm", dataset: { deny: String(a.id) }, onclick: () => decide(false) }, t("Deny")));
}

async function load() {
  const rows = await api("/recordings/approvals");
  const body = clear($("#ap-rows"));
  for (const a of rows) {
    body.append(h("tr", { dataset: { approval: String(a.id) } },
      h("td", {}, String(a.id)),
      h("td", {}, names.get(a.camera_id) || String(a.camera_id)),
      h("td", {}, ACTIONS[a.action] || a.action),
      h("td", {}, `${formatDateTime(a.start)} – ${formatDateTime(a.end)}`),
      h("td", {}, a.requester),
      h("td", {}, a.reason),
      h("td", { class: `ap-state-${a.state}` }, STATES[a.state] || a.state),
      h("td", {}, decideCell(a))));
  }
  root.dataset.ready = "1";
}

$("#ap-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const from = new Date($("#ap-from").value);
  const to = new Date($("#ap-to").value);
  await api("/recordings/approvals", { method: "POST", body: {
    camera_id: Number($("#ap-camera").value), action: $("#ap-action").value,
    from: from.toISOString(), to: to.toISOString(), reason: $("#ap-reason").value } });
  toast(t("Asked; a second person must approve."), "ok");
  load();
});

api("/cameras").then((cameras) => {
  const select = $("#ap-camera");
  for (const c of cameras) {
    names.set(c.id, c.name);
    select.append(h("option", { value: String(c.id) }, c.name));
  }
  load();
});

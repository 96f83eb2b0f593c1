// Evidence: mark a range on the shared clock, export it (signed, audited) or lock it against retention.

import { api, toast } from "../api.js";
import { $, clear, h } from "../dom.js";
import { formatDateTime, localName, t } from "../i18n.js";
import { S, clockText, iso, now } from "./state.js";
import { askApproval, requestFor } from "./lift.js";
import { loadTimelines } from "./timeline.js";

export function renderMark() {
  const out = $("#pb-range");
  if (!out) return;
  const { from, to } = S.mark;
  out.textContent = from === null ? t("No range marked")
    : `${formatDateTime(iso(from))} – ${to === null ? "…" : clockText(to)}`;
}

function markedRange() {
  const { from, to } = S.mark;
  if (from === null || to === null || to <= from) {
    toast(t("Mark the start and the end of the range first."), "error");
    return null;
  }
  const reason = $("#pb-reason").value.trim();
  if (!reason) {
    toast(t("Give a reason (case number, incident)."), "error");
    return null;
  }
  if (!S.picked.length) {
    toast(t("Choose a camera first."), "error");
    return null;
  }
  return { from: iso(from), to: iso(to), reason };
}

async function pollExport(id, row) {
  for (;;) {
    const exp = await api(`/recordings/exports/${id}`, { quiet: true });
    if (exp.state !== "running") {
      renderExport(exp, row);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function renderExport(exp, row = h("li", { class: "pb-export" })) {
  clear(row);
  const cam = S.cameras.find((c) => c.id === exp.camera_id);
  const state = { running: t("Exporting…"), ready: t("Ready"), failed: t("Failed") }[exp.state] || exp.state;
  row.append(h("span", { class: `badge ${exp.state === "ready" ? "badge-ok" : exp.state === "failed" ? "badge-danger" : ""}` }, state),
    h("span", {}, `${cam ? localName(cam) : exp.camera_id} · ${formatDateTime(exp.start)} – ${formatDateTime(exp.end)}`),
    h("span", { class: "pb-export-reason" }, exp.reason));
  if (exp.masked) row.append(h("span", { class: "badge badge-danger" }, t("Masked")));
  if (exp.state === "failed") row.append(h("span", { class: "pb-export-error" }, exp.error));
  if (exp.state === "ready") {
    const links = h("span", { class: "pb-links" });
    if (exp.files.some((f) => f.url)) {
      for (const f of exp.files) links.append(h("a", { href: f.url, download: f.name }, f.name));
    } else {
      links.append(h("button", { type: "button", class: "btn btn-sm", onclick: async () => {
        renderExport(await api(`/recordings/exports/${exp.id}`), row);
      } }, t("Download links")));
    }
    row.append(links);
  }
  return row;
}

/** A row offering to ask a second person for an (unmasked) export of the range. */
function askRow(id, range, text) {
  const cam = S.cameras.find((c) => c.id === id);
  const row = h("li", { class: "pb-export pb-export-ask" });
  const button = h("button", { type: "button", class: "btn btn-sm", onclick: async () => {
    const lo = Date.parse(range.from) / 1000;
    const hi = Date.parse(range.to) / 1000;
    const out = await askApproval(id, "export", range.reason, [lo, hi]).catch(() => null);
    if (!out) return;
    row.dataset.approval = String(out.id);
    row.dataset.state = out.state;
    button.hidden = true;
    state.textContent = t("Asked; a second person must approve.");
  } }, t("Ask for approval"));
  const state = h("span", { class: "pb-ask-state", "aria-live": "polite" });
  row.append(h("span", {}, `${cam ? localName(cam) : id}: ${text}`), button, state);
  return row;
}

async function startExport() {
  const range = markedRange();
  if (!range) return;
  const lo = Date.parse(range.from) / 1000;
  const hi = Date.parse(range.to) / 1000;
  for (const id of S.picked) {
    // An approved export request covering the range lifts the masks (and lets a sensitive camera export).
    const granted = requestFor(id, "export", lo, hi);
    const body = { camera_id: id, ...range };
    if (granted && granted.state === "approved") body.approval = granted.id;
    let exp;
    try {
      exp = await api("/recordings/exports", { method: "POST", body, quiet: true });
    } catch (err) {
      if (err.code === "approval_required" || err.code === "approval_invalid") {
        $("#pb-exports").prepend(askRow(id, range, t("This export needs a second person's approval.")));
        continue;
      }
      toast(err.message, "error");
      continue;
    }
    const row = renderExport(exp);
    $("#pb-exports").prepend(row);
    if (exp.masked) $("#pb-exports").prepend(askRow(id, range, t("Exported masked. Ask to export it unmasked?")));
    pollExport(exp.id, row);
  }
  toast(t("Export started; it is recorded in the audit trail."), "ok");
}

async function lockRange() {
  const range = markedRange();
  if (!range) return;
  for (const id of S.picked) {
    await api("/recordings/locks", { method: "POST", body: { camera_id: id, ...range } });
  }
  toast(t("Range locked: retention keeps it until it is unlocked."), "ok");
  loadTimelines();
}

export function wireEvidence() {
  if (!$("#pb-export")) return;
  $("#pb-mark-in").addEventListener("click", () => { S.mark = { from: now(), to: null }; renderMark(); });
  $("#pb-mark-out").addEventListener("click", () => {
    if (S.mark.from === null) S.mark.from = now();
    S.mark.to = now();
    if (S.mark.to < S.mark.from) S.mark = { from: S.mark.to, to: S.mark.from };
    renderMark();
  });
  $("#pb-export").addEventListener("click", () => startExport().catch(() => {}));
  $("#pb-lock").addEventListener("click", () => lockRange().catch(() => {}));
  api("/recordings/exports", { quiet: true }).then((list) => {
    for (const exp of list.slice(0, 10)) $("#pb-exports").append(renderExport(exp));
  }).catch(() => {});
}

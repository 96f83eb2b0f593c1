// Four eyes on the playback page (recordings/approvals.py, docs/privacy.md): a tile whose recording is
// masked says so and lets the operator ask a second person to lift the masks for a range, with a reason;
// it shows the request's state (pending, approved, refused, lapsed) and, once approved, plays the
// approved range unmasked (recording.js opens it with the approval; the server serves only that range,
// for 4 h). Exports use an approved export request where there is one (evidence.js).

import { api, toast } from "../api.js";
import { h } from "../dom.js";
import { formatDateTime, t } from "../i18n.js";
import { S, clockText, iso, now } from "./state.js";

const POLL_MS = 15000;
const POLL_PENDING_MS = 3000;
let mine = []; // the user's own requests, newest first
let timer = null;

const seconds = (text) => Date.parse(text) / 1000;

/** The request to show for a camera and action: an approved one still in force, else the newest. */
export function requestFor(cameraId, action, from = null, to = null) {
  const own = mine.filter((a) => a.camera_id === cameraId && a.action === action);
  const covers = (a) => from === null || (seconds(a.start) <= from && to <= seconds(a.end));
  return own.find((a) => a.state === "approved" && covers(a)) || own[0] || null;
}

function liftOf(a) {
  if (!a || a.state !== "approved") return null;
  return { id: a.id, from: seconds(a.start), to: seconds(a.end), until: seconds(a.expires_at) };
}

export async function refreshApprovals() {
  clearTimeout(timer);
  try {
    mine = (await api("/recordings/approvals", { quiet: true })).filter((a) => a.mine);
    for (const tile of S.tiles.values()) applyTo(tile);
    for (const row of document.querySelectorAll(".pb-export-ask[data-approval]")) showAsked(row);
  } catch { /* shown again at the next poll */ }
  timer = setTimeout(refreshApprovals, mine.some((a) => a.state === "pending") ? POLL_PENDING_MS : POLL_MS);
}

/** Give the tile's recording the camera's approved lift (or none), and show where things stand. */
export function applyTo(tile) {
  const a = requestFor(tile.camera.id, "playback");
  if (tile.recording.setLift(liftOf(a))) tile.seek(now());
  renderBar(tile);
}

/** A request for a camera: the marked range if there is one, else half an hour around the playhead. */
export async function askApproval(cameraId, action, reason, range = null) {
  const { from, to } = S.mark;
  const [lo, hi] = range || (from !== null && to !== null && to > from ? [from, to] : [now() - 900, now() + 900]);
  const out = await api("/recordings/approvals", { method: "POST", body: {
    camera_id: cameraId, action, from: iso(lo), to: iso(hi), reason } });
  toast(t("Asked; a second person must approve."), "ok");
  await refreshApprovals();
  return out;
}

function stateText(a) {
  const range = `${formatDateTime(a.start)} – ${formatDateTime(a.end)}`;
  switch (a.state) {
    case "pending": return t("Request #{id} ({range}) is waiting for a second person's approval.", { id: a.id, range });
    case "approved": return t("Approved by {who}: {range} plays unmasked until {until}.", { who: a.decided_by, range, until: clockText(seconds(a.expires_at)) });
    case "denied": return t("Refused by {who}: {reason}", { who: a.decided_by, reason: a.decision_reason });
    default: return t("Request #{id} has lapsed; ask again if you still need it.", { id: a.id });
  }
}

/** An export request asked from the evidence panel: its state, on its row. */
function showAsked(row) {
  const a = mine.find((x) => String(x.id) === row.dataset.approval);
  if (!a) return;
  row.dataset.state = a.state;
  row.querySelector(".pb-ask-state").textContent = a.state === "approved" ? t("Approved: export again to use it.") : stateText(a);
}

/** The tile's privacy line: masked or not now, the request's state, and the form to ask. */
export function renderBar(tile) {
  const rec = tile.recording;
  const a = requestFor(tile.camera.id, "playback");
  const masked = rec.masked;
  const lifted = rec.approval !== null;
  const bar = tile.privacy;
  bar.hidden = !(masked || lifted || a);
  tile.el.dataset.masked = masked ? "1" : "0";
  bar.dataset.state = a ? a.state : "";
  bar.dataset.approval = a ? String(a.id) : "";
  bar.badge.className = `badge ${masked ? "badge-danger" : "badge-ok"}`;
  bar.badge.textContent = masked ? t("Masked") : lifted ? t("Unmasked (approval #{id})", { id: rec.approval }) : t("Not masked");
  bar.state.textContent = a ? stateText(a) : "";
  bar.ask.hidden = !masked || (a !== null && a.state === "pending") || !bar.form.hidden; // masked outside an approved range: may ask again
}

/** The parts of a tile's privacy line (made once per tile). */
export function privacyBar(tile) {
  const reason = h("input", { class: "field", maxlength: "500", placeholder: t("Reason (case number, incident)"),
    "aria-label": t("Reason") });
  const send = h("button", { type: "submit", class: "btn btn-sm btn-primary" }, t("Ask for approval"));
  const cancel = h("button", { type: "button", class: "btn btn-sm" }, t("Cancel"));
  const range = h("span", { class: "pb-lift-range" });
  const form = h("form", { class: "pb-lift-form", hidden: true }, range, reason, send, cancel);
  const ask = h("button", { type: "button", class: "btn btn-sm pb-lift-ask" }, t("Ask to see it unmasked"));
  const badge = h("span", { class: "badge" });
  const state = h("span", { class: "pb-lift-state", "aria-live": "polite" });
  const bar = h("div", { class: "pb-lift", hidden: true }, badge, state, ask, form);
  Object.assign(bar, { badge, state, ask, form });
  const planned = () => {
    const { from, to } = S.mark;
    return from !== null && to !== null && to > from ? [from, to] : [now() - 900, now() + 900];
  };
  ask.addEventListener("click", () => {
    const [lo, hi] = planned();
    range.textContent = `${formatDateTime(iso(lo))} – ${clockText(hi)}`;
    form.hidden = false;
    ask.hidden = true;
    reason.focus();
  });
  cancel.addEventListener("click", () => { form.hidden = true; renderBar(tile); });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!reason.value.trim()) { toast(t("Give a reason (case number, incident)."), "error"); reason.focus(); return; }
    await askApproval(tile.camera.id, "playback", reason.value.trim(), planned()).catch(() => null);
    form.hidden = true;
    reason.value = "";
    renderBar(tile);
  });
  return bar;
}

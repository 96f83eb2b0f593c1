// The alarm detail as drawn: fields, workflow buttons, nearest cameras, the village plan with its guard
// points, and the timeline with a note field. Drawing only: what the buttons do comes from detail.js.

import { ago, alarmKindLabel, duration, eventLabel, sourceLabel, stateLabel } from "../alarm-client.js";
import { h } from "../dom.js";
import { formatClock, formatDateTime, t } from "../i18n.js";
import { ackSeconds, names, place } from "./words.js";
import { ACTIONS, CLOSED, nextAction } from "./workflow.js";

/**
 * Draws alarm `a` into `container`. st: the detail's state (busy, error, detail: the last read with its
 * timeline); mob: the mobilization view (mobilization.js) or null; hooks: openCamera(id), openCameras(a);
 * onAction(spec), onMobilize(standDown), onNote(input).
 */
export function renderDetailView(container, a, { st, mob, hooks, onAction, onMobilize, onNote }) {
  const closed = CLOSED.has(a.state);
  const row = (label, value) => (value === null || value === undefined || value === "" ? [] : [h("dt", {}, label), h("dd", {}, value)]);
  const tta = ackSeconds(a);
  const fields = [
    row(t("Village"), names.region(a.region_id, a.region_name)),
    row(t("Household"), a.household_head ? `${a.household_head}${a.household_code ? ` (${a.household_code})` : ""}` : ""),
    row(t("Address"), a.household_address),
    row(t("Phone"), a.household_phone ? h("a", { href: `tel:${a.household_phone}` }, a.household_phone) : ""),
    row(t("Received"), a.received_at ? `${formatDateTime(a.received_at)} (${ago(a.received_at)})` : ""),
    row(t("Raised from"), a.source ? sourceLabel(a.source) : ""),
    row(t("Presses"), a.press_count > 1 ? String(a.press_count) : ""),
    row(t("Station"), names.region(a.station_region_id, a.station_name)),
    row(t("Location"), a.lat !== null && a.lat !== undefined ? `${a.lat.toFixed(5)}, ${a.lon.toFixed(5)}` : ""),
    row(t("Time to acknowledge"), tta !== null ? duration(tta) : ""),
    row(t("Dispatched to"), a.dispatched_to),
    row(t("Note from the sender"), a.note),
  ].flat();
  const buttons = ACTIONS.map((spec) => {
    const legal = spec.from.includes(a.state);
    return h("button", {
      type: "button", dataset: { action: spec.action },
      class: `btn btn-sm${nextAction(a.state) === spec.action ? " btn-primary" : ""}${spec.action === "false_alarm" ? " btn-danger" : ""}`,
      disabled: st.busy || !legal,
      title: legal ? null : (a.state === "new" ? t("Acknowledge the alarm first") : t("Not possible in this state")),
      onclick: () => onAction(spec),
    }, spec.label());
  });
  const cams = (a.cameras || []).map((c) => h("li", {},
    h(hooks.openCamera ? "button" : "div", { type: hooks.openCamera ? "button" : null, class: "alarm-cam",
      dataset: { cameraId: c.camera_id }, onclick: hooks.openCamera ? () => hooks.openCamera(c.camera_id) : null },
    h("span", { class: "alarm-cam-name" }, names.camera(c.camera_id, c.name)),
    h("span", { class: "alarm-cam-sub" }, `${Math.round(c.distance_m)} m`,
      c.covers ? h("span", { class: "badge badge-ok" }, t("sees the place")) : null))));
  const events = (st.detail && st.detail.id === a.id && st.detail.events) || [];
  const closedWord = t("closed");

  container.replaceChildren(h("div", { class: `alarm-detail state-${a.state}${a.escalation_level ? " escalated" : ""}`,
    dataset: { alarmId: a.id, state: a.state } },
  h("div", { class: "alarm-detail-head" },
    h("span", { class: "alarm-detail-icon", "aria-hidden": "true" }, "!"),
    h("div", {},
      h("h2", {}, t("Alarm no. {id}: {kind}", { id: a.id, kind: alarmKindLabel(a.kind) })),
      h("p", { class: "muted" }, place(a)))),
  h("div", { class: "detail-badges" },
    h("span", { class: `badge alarm-state state-${a.state}` }, stateLabel(a.state)),
    a.escalation_level ? h("span", { class: "badge badge-danger" }, t("Escalated (level {n})", { n: a.escalation_level })) : null,
    a.state === "new" && a.ack_due_at ? h("span", { class: "badge" }, t("acknowledge by {time}", { time: formatClock(new Date(a.ack_due_at)) })) : null),
  st.error ? h("p", { class: "form-error alarm-error", role: "alert" }, st.error) : null,
  closed
    ? h("p", { class: "alarm-closed-note" }, t("Closed {time}", { time: a.closed_at ? formatDateTime(a.closed_at) : "" }))
    : h("div", { class: "alarm-actions" }, buttons),
  h("dl", { class: "detail-fields" }, fields),
  cams.length ? h("section", { class: "alarm-sec" },
    h("div", { class: "alarm-sec-head" }, h("h3", {}, t("Nearest cameras")),
      hooks.openCameras ? h("button", { type: "button", class: "btn btn-sm", onclick: () => hooks.openCameras(a) }, t("Open all live")) : null),
    h("ul", { class: "alarm-cams" }, cams)) : null,
  closed && !mob ? null : h("section", { class: "alarm-sec alarm-mob" },
    h("div", { class: "alarm-sec-head" }, h("h3", {}, t("Village plan")),
      mob && mob.active ? h("span", { class: "badge badge-brand", id: "mob-count" },
        t("{manned} of {total} points manned", { manned: mob.points.filter((p) => p.manned).length, total: mob.points.length })) : null),
    mob ? h("ul", { class: "mob-points" }, mob.points.map((p) => h("li", {
      class: `mob-point${p.manned ? " manned" : ""}`, dataset: { pointId: p.id, manned: String(p.manned) } },
    h("span", { class: "mob-dot", "aria-hidden": "true" }),
    h("span", { class: "mob-main" },
      h("span", { class: "mob-name" }, p.name),
      h("span", { class: "mob-sub" }, p.tasks.length
        ? p.tasks.map((x) => x.user_name + ({ in_position: " ✓", closed: ` (${closedWord})` }[x.state] || "")).join("、")
        : t("no one assigned"))),
    h("span", { class: "mob-state" }, p.manned
      ? t("manned since {time} ({ago})", { time: formatClock(new Date(p.since)), ago: duration((Date.now() - new Date(p.since)) / 1000) })
      : t("not manned"))))) : h("p", { class: "muted" }, t("Send the volunteers and grid workers of the village to its guard points.")),
    h("div", { class: "alarm-sec-actions" },
      !mob ? h("button", { type: "button", class: "btn btn-sm btn-primary", id: "mob-activate", disabled: st.busy || closed,
        onclick: () => onMobilize(false) }, t("Activate plan")) : null,
      mob && mob.active ? h("button", { type: "button", class: "btn btn-sm", id: "mob-stand-down", disabled: st.busy,
        onclick: () => onMobilize(true) }, t("Stand down")) : null,
      mob && !mob.active ? h("span", { class: "muted" }, t("Stood down at {time}", { time: formatClock(new Date(mob.mob.stood_down_at)) })) : null)),
  h("section", { class: "alarm-sec" },
    h("h3", {}, t("Timeline")),
    h("ol", { class: "alarm-timeline" }, events.length ? events.map((e) => h("li", { class: `ev ev-${e.action}` },
      h("span", { class: "ev-time" }, formatClock(new Date(e.at))),
      h("span", { class: "ev-main" },
        h("strong", {}, eventLabel(e.action)),
        e.actor ? h("span", { class: "muted" }, ` · ${e.actor}`) : null,
        e.detail && e.detail.dispatched_to ? h("span", {}, ` → ${e.detail.dispatched_to}`) : null,
        e.note ? h("span", { class: "ev-note" }, e.note) : null)))
      : [h("li", { class: "muted" }, t("Loading…"))]),
    h("form", { class: "alarm-note-form", onsubmit: (e) => { e.preventDefault(); onNote(e.currentTarget.elements.note); } },
      h("input", { class: "field", name: "note", maxlength: 2000, autocomplete: "off", placeholder: t("Add a note…"),
        "aria-label": t("Add a note") }),
      h("button", { type: "submit", class: "btn btn-sm" }, t("Add"))))));
}

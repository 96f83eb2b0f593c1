// The open-alarm queue beside the map: escalated ones first, then those waiting for acknowledgement.

import { ago, alarmKindLabel, stateLabel } from "../alarm-client.js";
import { h } from "../dom.js";
import { formatClock, t } from "../i18n.js";
import { place } from "./words.js";

export function sortQueue(list) {
  const rank = (a) => (a.escalation_level > 0 && a.state === "new" ? 0 : a.state === "new" ? 1 : 2);
  return [...list].sort((a, b) => rank(a) - rank(b) || b.id - a.id);
}

export function queueItem(a, selected, onSelect) {
  return h("li", {}, h("button", {
    type: "button", class: `alarm-item state-${a.state}${a.escalation_level ? " escalated" : ""}${selected ? " selected" : ""}`,
    dataset: { alarmId: a.id, state: a.state }, onclick: () => onSelect(a.id),
  },
  h("span", { class: "alarm-item-dot", "aria-hidden": "true" }),
  h("span", { class: "alarm-item-main" },
    h("span", { class: "alarm-item-title" }, t("No. {id}", { id: a.id }), " ", alarmKindLabel(a.kind)),
    h("span", { class: "alarm-item-sub" },
      [place(a), formatClock(new Date(a.received_at)), ago(a.received_at)].filter(Boolean).join(" · "))),
  h("span", { class: "alarm-item-flags" },
    a.escalation_level ? h("span", { class: "flag flag-off" }, t("Escalated")) : null,
    a.press_count > 1 ? h("span", { class: "flag" }, `×${a.press_count}`) : null,
    h("span", { class: `badge alarm-state state-${a.state}` }, stateLabel(a.state)))));
}

// What alarms put on the map: a pulsing pin per open alarm, a square per guard point of a village plan.

import { h } from "../dom.js";
import { t } from "../i18n.js";
import { place } from "./words.js";

export function alarmMarker(a, selected, onClick) {
  return {
    lat: a.lat, lon: a.lon, cls: `alarm-pin state-${a.state}${selected ? " selected" : ""}${a.escalation_level ? " escalated" : ""}`,
    title: [t("Alarm no. {id}", { id: a.id }), place(a)].join(" · "), dataset: { alarmId: a.id },
    onClick: () => onClick(a.id),
    nodes: [h("svg:circle", { class: "alarm-pulse", r: 16 }), h("svg:circle", { class: "alarm-core", r: 9 }),
      h("svg:text", { class: "alarm-mark", "text-anchor": "middle", dy: "0.36em" }, "!")],
  };
}

export function guardMarker(p) {
  return {
    lat: p.lat, lon: p.lon, cls: `guard-pin${p.manned ? " manned" : ""}`, dataset: { pointId: p.id, manned: String(p.manned) },
    title: [p.name, p.manned ? t("manned") : t("not manned")].join(" · "),
    nodes: [h("svg:rect", { x: -7, y: -7, width: 14, height: 14, rx: 3 }),
      h("svg:text", { class: "guard-label", x: 11, dy: "0.35em" }, p.name)],
  };
}

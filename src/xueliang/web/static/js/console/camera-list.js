// The camera list of the cameras section: one row per camera in the filter, click to select, double
// click to open it live.

import { h } from "../dom.js";
import { kindLabel, localName, t } from "../i18n.js";
import { watchStill } from "../stills.js";

/** The kind dot grows into a small picture of the camera while it has one (stills.js). */
function thumb(slot, shown) {
  Object.assign(slot.style, shown ? { width: "64px", height: "36px", borderRadius: "4px" }
    : { width: "", height: "", borderRadius: "" });
}

/** Draws `state.cameras` into `listEl` (the count into `countEl`); onSelect(id), onOpen(camera). */
export function renderCameraList(listEl, countEl, state, { onSelect, onOpen }) {
  const regionLabel = (cam) => {
    const region = state.regionById.get(cam.region_id);
    return region ? localName(region) : cam.region_name;
  };
  countEl.textContent = t("{count} shown", { count: state.cameras.length });
  if (!state.cameras.length) {
    listEl.replaceChildren(h("li", { class: "empty" }, t("No cameras match these filters.")));
    return;
  }
  listEl.replaceChildren(...state.cameras.map((cam) => h("li", {},
    h("button", {
      type: "button", class: `cam-item${cam.id === state.selected?.id ? " selected" : ""}${cam.enabled ? "" : " off"}`,
      dataset: { cameraId: cam.id }, onclick: () => onSelect(cam.id),
      ondblclick: () => onOpen(cam),
    },
    watchStill(h("span", { class: `kind-dot kind-${cam.kind}`, title: kindLabel(cam.kind) }), cam.id, thumb),
    h("span", { class: "cam-item-main" },
      h("span", { class: "cam-name" }, localName(cam)),
      h("span", { class: "cam-sub" }, `${regionLabel(cam)} · ${kindLabel(cam.kind)}`)),
    h("span", { class: "cam-flags" },
      cam.ptz ? h("span", { class: "flag", title: t("PTZ") }, t("PTZ")) : null,
      cam.public_view ? h("span", { class: "flag flag-public", title: t("Public view") }, t("Public")) : null,
      cam.enabled ? null : h("span", { class: "flag flag-off" }, t("Off")))))));
}

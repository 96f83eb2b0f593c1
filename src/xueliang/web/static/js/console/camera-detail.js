// The detail panel of one camera: its fields, and "Open live" / "Show on map".

import { can, me } from "../api.js";
import { $, h } from "../dom.js";
import { kindLabel, localName, t, yesNo } from "../i18n.js";
import { ptzPanel } from "./ptz.js";

function compass(heading) {
  const names = [t("north"), t("north-east"), t("east"), t("south-east"), t("south"), t("south-west"), t("west"),
    t("north-west")];
  return names[Math.round((((heading % 360) + 360) % 360) / 45) % 8];
}

/** Fills #detail with camera `cam`; onOpenLive(cam), onShowOnMap(cam). */
export function renderCameraDetail(cam, regionById, { onOpenLive, onShowOnMap }) {
  const region = regionById.get(cam.region_id);
  const row = (label, value) => [h("dt", {}, label), h("dd", {}, value)];
  const other = localName(cam) === cam.name ? cam.name_en : cam.name;
  const fields = [
    row(t("GB ID"), h("code", {}, cam.gb_id)),
    row(t("Region"), region ? localName(region) : cam.region_name),
    row(t("Kind"), kindLabel(cam.kind)),
    row(t("Location"), `${cam.lat.toFixed(6)}, ${cam.lon.toFixed(6)}`),
    row(t("Heading"), t("{deg}° ({dir})", { deg: Math.round(cam.heading), dir: compass(cam.heading) })),
    row(t("Field of view"), t("{deg}°, {m} m", { deg: Math.round(cam.fov_angle), m: Math.round(cam.fov_range) })),
    row(t("PTZ"), cam.ptz ? t("PTZ (can turn and zoom)") : t("Fixed")),
    row(t("Public view"), yesNo(cam.public_view)),
    row(t("Recording"), yesNo(cam.record)),
    row(t("Enabled"), yesNo(cam.enabled)),
  ];
  if ("stream_url" in cam) fields.push(row(t("Source"), h("code", { class: "wrap" }, cam.stream_url)));
  if ("retention_days" in cam) fields.push(row(t("Keep recordings"), t("{n} days", { n: cam.retention_days })));
  const openBtn = can("view_live")
    ? h("button", { type: "button", class: "btn btn-primary", id: "open-live", disabled: !cam.enabled,
      onclick: () => onOpenLive(cam) }, t("Open live"))
    : null;
  $("#detail").replaceChildren(
    h("div", { class: "detail-head" },
      h("span", { class: `kind-dot kind-${cam.kind}` }),
      h("div", {}, h("h2", { id: "detail-name" }, localName(cam)), other ? h("p", { class: "muted" }, other) : null)),
    h("div", { class: "detail-badges" },
      h("span", { class: "badge" }, kindLabel(cam.kind)),
      cam.enabled ? h("span", { class: "badge badge-ok" }, t("Enabled")) : h("span", { class: "badge badge-danger" }, t("Disabled")),
      cam.public_view ? h("span", { class: "badge badge-brand" }, t("Public view")) : null,
      cam.ptz ? h("span", { class: "badge" }, t("PTZ")) : null),
    h("div", { class: "detail-actions" }, openBtn,
      h("button", { type: "button", class: "btn", onclick: () => onShowOnMap(cam) },
        t("Show on map")),
      h("a", { class: "btn", href: `/privacy/${cam.id}`, id: "privacy-notice" }, t("Privacy notice")),
      // Admins and operators draw privacy masks (cameras/masks.py MASK_EDITORS); the server decides.
      me && ["admin", "operator"].indexOf(me.role) >= 0
        ? h("a", { class: "btn", href: `/masks/${cam.id}`, id: "privacy-masks" }, t("Privacy masks")) : null),
    ptzPanel(cam),
    h("dl", { class: "detail-fields" }, fields));
}

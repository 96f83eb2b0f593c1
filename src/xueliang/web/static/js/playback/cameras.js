// The camera picker: up to MAX_TILES cameras play together; the choice is kept in the URL (?cams=).

import { toast } from "../api.js";
import { $, clear, h } from "../dom.js";
import { localName, t } from "../i18n.js";
import { MAX_TILES, S, now } from "./state.js";
import { applyTo } from "./lift.js";
import { Tile } from "./tile.js";
import { loadTimelines } from "./timeline.js";

export function renderCameras() {
  const list = clear($("#pb-cam-list"));
  const q = $("#pb-search").value.trim().toLowerCase();
  const shown = S.cameras.filter((c) => !q || `${c.name} ${c.name_en} ${c.gb_id}`.toLowerCase().includes(q));
  if (!shown.length) list.append(h("li", { class: "empty" }, t("No cameras")));
  for (const cam of shown) {
    const picked = S.picked.includes(cam.id);
    list.append(h("li", {}, h("button", {
      type: "button", class: `cam-item${picked ? " selected" : ""}`, "aria-pressed": String(picked),
      onclick: () => togglePick(cam.id),
    }, h("span", { class: "cam-item-main" }, h("span", { class: "cam-name" }, localName(cam)),
      h("span", { class: "cam-sub" }, cam.gb_id)))));
  }
  $("#pb-picked").textContent = t("{n} of {max}", { n: S.picked.length, max: MAX_TILES });
}

export function togglePick(id) {
  if (S.picked.includes(id)) {
    S.picked = S.picked.filter((x) => x !== id);
    S.tiles.get(id)?.destroy();
    S.tiles.delete(id);
    S.lines.delete(id);
  } else {
    if (S.picked.length >= MAX_TILES) {
      toast(t("At most {max} cameras play together.", { max: MAX_TILES }));
      return;
    }
    S.picked.push(id);
    const tile = new Tile(S.cameras.find((c) => c.id === id));
    S.tiles.set(id, tile);
    $("#pb-tiles").append(tile.el);
    applyTo(tile); // an approved lift of its masks, if the user holds one
    tile.seek(now());
  }
  $("#pb-tiles").dataset.count = String(S.picked.length);
  $("#pb-empty").hidden = S.picked.length > 0;
  const url = new URL(location.href);
  url.searchParams.set("cams", S.picked.join(","));
  history.replaceState(null, "", url);
  renderCameras();
  loadTimelines();
}

// The region tree of the cameras section: the caller's region and everything under it (ancestors shown
// greyed out down to it), with camera counts; a click filters the list and the map to that region.

import { $, $$, h } from "../dom.js";
import { levelLabel, localName, t } from "../i18n.js";

/** Draws the tree into #region-tree from `state.regions`; `onPick(regionId)` on a click. */
export function renderRegionTree(state, cameras, onPick) {
  const { regions } = state;
  const counts = new Map();
  for (const cam of cameras) {
    for (let r = state.regionById.get(cam.region_id); r; r = state.regionById.get(r.parent_id)) {
      counts.set(r.id, (counts.get(r.id) || 0) + 1);
    }
  }
  const children = new Map();
  for (const r of regions) {
    const key = state.regionById.has(r.parent_id) ? r.parent_id : null;
    if (!children.has(key)) children.set(key, []);
    children.get(key).push(r);
  }

  function treeNode(region, depth) {
    const kids = children.get(region.id) || [];
    const open = region.level !== "village" && region.level !== "grid";
    const li = h("li", { role: "treeitem", "aria-expanded": kids.length ? String(open) : null,
      dataset: { regionId: region.id } });
    const toggle = kids.length
      ? h("button", { type: "button", class: "tree-toggle", "aria-label": open ? t("Collapse") : t("Expand") }, "")
      : h("span", { class: "tree-toggle-spacer" });
    const n = counts.get(region.id) || 0;
    const label = region.in_scope
      ? h("button", { type: "button", class: "tree-label", dataset: { regionId: region.id },
        onclick: () => onPick(region.id) },
      h("span", { class: "tree-name" }, localName(region)), h("span", { class: "tree-count" }, n))
      : h("span", { class: "tree-label out", title: t("Above your area") }, h("span", { class: "tree-name" }, localName(region)));
    const row = h("div", { class: `tree-row level-${region.level}`, style: `--depth:${depth}` }, toggle, label);
    li.append(row);
    if (kids.length) {
      const ul = h("ul", { role: "group" }, kids.map((k) => treeNode(k, depth + 1)));
      li.append(ul);
      toggle.addEventListener("click", () => {
        const expanded = li.getAttribute("aria-expanded") !== "true";
        li.setAttribute("aria-expanded", String(expanded));
        toggle.setAttribute("aria-label", expanded ? t("Collapse") : t("Expand"));
      });
    }
    return li;
  }
  $("#region-tree").replaceChildren(...(children.get(null) || []).map((r) => treeNode(r, 0)));
}

/** Marks the active region (`state.regionId`, else the root), opens its branch, shows the filter chip. */
export function markTree(state) {
  const active = state.regionId ?? state.rootId;
  for (const btn of $$("#region-tree .tree-label[data-region-id]")) {
    const on = Number(btn.dataset.regionId) === active;
    btn.classList.toggle("active", on);
    btn.setAttribute("aria-current", on ? "true" : "false");
  }
  // Open the branch down to the active region.
  for (let r = state.regionById.get(active); r; r = state.regionById.get(r.parent_id)) {
    const li = $(`#region-tree li[data-region-id="${r.parent_id}"]`);
    if (li) li.setAttribute("aria-expanded", "true");
  }
  const chip = $("#f-region");
  chip.hidden = state.regionId === null;
  if (state.regionId !== null) {
    const r = state.regionById.get(state.regionId);
    $("#f-region-name").textContent = `${levelLabel(r.level)}：${localName(r)}`;
  }
}

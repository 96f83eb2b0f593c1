// The camera wall: 1, 4, 9 or 16 tiles of live video; a click picks the tile the next camera goes to.
// A new layout keeps the cameras shown (as many as fit), playing again in their new tiles.

import { $, h } from "../dom.js";
import { localName, t } from "../i18n.js";
import { playLive } from "../live.js";
import { loadStill } from "../stills.js";

export function createWall(el) {
  let size = 4;
  let target = 0;
  let tiles = [];

  function tileEl(i) {
    return h("div", { class: "tile", dataset: { tile: i }, onclick: () => { target = i; mark(); } },
      h("div", { class: "tile-head" }, h("span", { class: "tile-name" }, t("Tile {n}", { n: i + 1 }))),
      h("div", { class: "tile-body" }, h("div", { class: "tile-empty" },
        t("Select a camera, then press “Open live”."))));
  }

  function build() {
    const old = tiles.filter((tile) => tile.camera);
    for (const tile of old) dropPoster(tile);
    for (const tile of old.slice(size)) tile.player.close();
    tiles = Array.from({ length: size }, (_, i) => ({ el: tileEl(i), camera: null, player: null }));
    old.slice(0, size).forEach((prev, i) => {
      Object.assign(tiles[i], { camera: prev.camera, streams: prev.streams, retry: prev.retry });
      prev.player.close();
      fill(i);
    });
    el.dataset.layout = String(size);
    el.replaceChildren(...tiles.map((tile) => tile.el));
    target = Math.min(target, size - 1);
    mark();
  }

  function fill(i) {
    const tile = tiles[i];
    const head = tile.el.querySelector(".tile-head");
    head.replaceChildren(h("span", { class: "tile-name" }, localName(tile.camera)),
      h("button", { type: "button", class: "tile-close", "aria-label": t("Close"), title: t("Close"),
        onclick: (e) => { e.stopPropagation(); close(i); } }, "×"));
    tile.el.classList.add("busy");
    tile.el.dataset.cameraId = tile.camera.id;
    const id = tile.camera.id;
    const body = tile.el.querySelector(".tile-body");
    tile.player = playLive(body, id, tile.streams, { onRetry: tile.retry });
    poster(tile, body, id);
  }

  /** Until its first frame, a tile shows the camera's latest still (stills.js) rather than black. */
  async function poster(tile, body, id) {
    const url = await loadStill(id);
    if (!url) return;
    const video = body.querySelector("video");
    if (!tile.camera || tile.camera.id !== id || !video || !body.isConnected) { URL.revokeObjectURL(url); return; }
    dropPoster(tile);
    tile.poster = url;
    video.poster = url;
  }

  function dropPoster(tile) {
    if (tile.poster) URL.revokeObjectURL(tile.poster);
    tile.poster = null;
  }

  function close(i) {
    const fresh = tileEl(i);
    dropPoster(tiles[i]);
    if (tiles[i].player) tiles[i].player.close();
    tiles[i].el.replaceWith(fresh);
    tiles[i] = { el: fresh, camera: null, player: null };
    target = i;
    mark();
  }

  function mark() {
    tiles.forEach((tile, i) => tile.el.classList.toggle("target", i === target));
    const busy = tiles.filter((tile) => tile.camera).length;
    const badge = $("#wall-count");
    badge.hidden = !busy;
    badge.textContent = String(busy);
  }

  build();
  return {
    setLayout(n) { size = n; build(); },
    size: () => size,
    has: (cameraId) => tiles.some((tile) => tile.camera && tile.camera.id === cameraId),
    /** Shows `camera` in its tile if it is on the wall, else in tile `index` if given, else a free one. */
    show(camera, streams, retry, index) {
      let i = tiles.findIndex((tile) => tile.camera && tile.camera.id === camera.id);
      if (i < 0 && index !== undefined && index < size) i = index;
      if (i < 0) i = tiles[target] && !tiles[target].camera ? target : tiles.findIndex((tile) => !tile.camera);
      if (i < 0) i = target;
      if (tiles[i].player) tiles[i].player.close();
      dropPoster(tiles[i]);
      Object.assign(tiles[i], { camera, streams, retry });
      fill(i);
      const free = tiles.findIndex((tile) => !tile.camera);
      target = free >= 0 ? free : (i + 1) % size;
      mark();
    },
  };
}

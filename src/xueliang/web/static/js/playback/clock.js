// The one clock every tile follows: ticks a few times a second, stops at the end of the day (or now),
// skips gaps that all shown cameras share, seeks every tile at once and steps by keyframes.

import { toast } from "../api.js";
import { $ } from "../dom.js";
import { t } from "../i18n.js";
import { DAY, S, clockText, now, setClock } from "./state.js";
import { drawTimeline, keepInView } from "./timeline.js";

export function tickAll() {
  let wall = now();
  if (wall >= S.day0 + DAY || wall > Date.now() / 1000) {
    setClock(Math.min(S.day0 + DAY, Date.now() / 1000), { playing: false });
    wall = now();
    renderPlay();
  }
  const tiles = [...S.tiles.values()];
  if (S.clock.playing && tiles.length && tiles.every((tile) => tile.recording.recordedAt(wall) === false)) {
    const next = tiles.map((tile) => tile.recording.nextStart(wall)).filter((v) => v !== null);
    if (next.length) setClock(Math.min(...next));
  }
  for (const tile of tiles) tile.tick(now());
  $("#pb-clock").textContent = clockText(now());
  drawTimeline();
}

export function seekAll(wall) {
  const clamped = Math.max(S.day0, Math.min(S.day0 + DAY, wall));
  setClock(clamped);
  for (const tile of S.tiles.values()) tile.seek(clamped);
  keepInView(clamped);
  tickAll();
}

export function renderPlay() {
  const btn = $("#pb-play");
  btn.textContent = S.clock.playing ? `⏸ ${t("Pause")}` : `▶ ${t("Play")}`;
  btn.setAttribute("aria-pressed", String(S.clock.playing));
}

/** To the next (direction 1) or previous (-1) keyframe of the first camera, paused. */
export function stepKeyframe(direction) {
  const tile = S.tiles.get(S.picked[0]);
  if (!tile) return;
  const wall = now();
  const keys = tile.recording.keyframes();
  const target = direction > 0
    ? keys.find((k) => k > wall + 0.02)
    : [...keys].reverse().find((k) => k < wall - 0.02);
  setClock(wall, { playing: false });
  renderPlay();
  if (target !== undefined) seekAll(target);
  else toast(t("No further keyframe in the loaded part; play on or seek."));
}

// The playback page's shared state: the cameras, the day shown, the visible part of the timeline, the one
// clock every tile follows, the tiles and their timelines, and the marked range. Times are epoch seconds.

import { timezone } from "../i18n.js";

export const MAX_TILES = 4;
export const DAY = 86400;

export const S = {
  cameras: [],
  picked: [],
  day0: 0,
  view: { from: 0, to: DAY },
  clock: { wall: 0, rate: 1, playing: false, at: performance.now() },
  lines: new Map(),
  tiles: new Map(),
  mark: { from: null, to: null },
};

/** Where the shared clock is now (it runs at `rate` while playing). */
export function now() {
  const c = S.clock;
  return c.playing ? c.wall + ((performance.now() - c.at) / 1000) * c.rate : c.wall;
}

export function setClock(wall, changes = {}) {
  S.clock = { ...S.clock, ...changes, wall, at: performance.now() };
}

// -- time as shown: the platform's time zone ------------------------------------------------------------

const clockFmt = new Intl.DateTimeFormat("en-GB", {
  timeZone: timezone, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});
export const shortFmt = new Intl.DateTimeFormat("en-GB", { timeZone: timezone, hour: "2-digit", minute: "2-digit", hour12: false });

export const iso = (seconds) => new Date(Math.round(seconds * 1000)).toISOString();
export const clockText = (seconds) => clockFmt.format(new Date(seconds * 1000));

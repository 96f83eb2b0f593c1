// Calendar days in the platform's time zone (settings.timezone, Asia/Shanghai by default), whatever the
// browser's own zone is: a date picked on a page means that day where the cameras are.

import { timezone } from "./i18n.js";

// h23: midnight reads "00" (hour12: false may give "24" in some locales); `% 24` below guards it anyway.
const partsFmt = new Intl.DateTimeFormat("en-GB", {
  timeZone: timezone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit",
});

function parts(ms) {
  const out = {};
  for (const p of partsFmt.formatToParts(new Date(ms))) out[p.type] = p.value;
  return out;
}

/** The zone's offset from UTC at instant `ms`, in milliseconds (whole seconds). */
function offsetAt(ms) {
  const p = parts(ms);
  const shown = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second);
  return shown - Math.floor(ms / 1000) * 1000;
}

const textOf = (p) => `${p.year}-${p.month}-${p.day}`;

/** The yyyy-mm-dd day in the platform's time zone at `seconds` (epoch seconds). */
export function dateText(seconds) {
  return textOf(parts(seconds * 1000));
}

/**
 * When day `day` (yyyy-mm-dd) begins in the platform's time zone, `plusDays` later (1: the end of that
 * day), in epoch seconds. The offset is measured where midnight falls, not at 00:00 UTC, so days on
 * which the zone changes its offset start at their real midnight (or at the change, if it skips midnight).
 */
export function dayStart(day, plusDays = 0) {
  const [y, m, d] = day.split("-").map(Number);
  const guess = Date.UTC(y, m - 1, d + plusDays); // that wall-clock midnight, as if the zone were UTC
  const want = new Date(guess).toISOString().slice(0, 10);
  const first = guess - offsetAt(guess);
  const second = guess - offsetAt(first);
  const onDay = [first, second].filter((ms) => textOf(parts(ms)) === want);
  return (onDay.length ? Math.min(...onDay) : first) / 1000;
}

/** dayStart as an ISO instant, as the API takes it. */
export function dayStartIso(day, plusDays = 0) {
  return new Date(dayStart(day, plusDays) * 1000).toISOString();
}

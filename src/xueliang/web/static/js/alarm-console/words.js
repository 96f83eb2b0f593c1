// How the alarm console names things: the server's refusals, places, and the time to acknowledge.

import { ApiError } from "../api.js";
import { t } from "../i18n.js";

/** The server's words for a refused step, in the operator's language where we know the code. */
export function conflictText(err) {
  if (!(err instanceof ApiError)) return String(err);
  const ours = {
    illegal_transition: t("Not possible in the alarm's current state; someone may have acted first."),
    already_mobilized: t("The village plan is already activated for this alarm."),
    already_stood_down: t("Already stood down."),
    alarm_closed: t("The alarm is closed."),
  }[err.code];
  return ours ? `${ours} (${err.detail})` : err.message;
}

// Names in the page's language where the console knows the place (the alarm carries the Chinese ones);
// the cameras section sets these (initAlarmConsole).
export const names = { region: (id, fallback) => fallback, camera: (id, fallback) => fallback };

export function place(alarm) {
  return [names.region(alarm.region_id, alarm.region_name), alarm.household_head || alarm.household_address]
    .filter(Boolean).join(" · ");
}

export function ackSeconds(alarm) {
  if (!alarm.acknowledged_at) return null;
  return (new Date(alarm.acknowledged_at) - new Date(alarm.received_at)) / 1000;
}

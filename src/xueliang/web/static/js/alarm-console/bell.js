// The bell: the badge on the "Alarms" tab, the sound and the big red toast of a new alarm. On console
// sections other than the cameras one, that is all staff get; a click on the toast opens the alarm there.

import { alarmKindLabel, playAlarmSound, sourceLabel, unlockSoundOnGesture } from "../alarm-client.js";
import { toast } from "../api.js";
import { $, h } from "../dom.js";
import { formatClock, t } from "../i18n.js";
import { createFeed } from "./feed.js";
import { names, place } from "./words.js";

export function updateBadge(feed) {
  const badge = $("#alarm-badge");
  if (!badge) return;
  const open = feed.open();
  const waiting = open.filter((a) => a.state === "new").length;
  badge.hidden = !open.length;
  badge.textContent = String(open.length);
  badge.classList.toggle("hot", waiting > 0);
  badge.title = t("{open} open, {waiting} waiting for acknowledgement", { open: open.length, waiting });
}

/** The big red toast of a new alarm; a click opens it. */
export function alarmToast(alarm, event, onOpen) {
  const el = toast("", "alarm", 20000);
  el.dataset.alarmId = alarm.id;
  el.setAttribute("role", "alert");
  const title = event === "escalated"
    ? t("Alarm no. {id} escalated: not acknowledged in time", { id: alarm.id })
    : t("Alarm no. {id}: {kind}", { id: alarm.id, kind: alarmKindLabel(alarm.kind) });
  el.replaceChildren(
    h("strong", {}, title),
    h("span", {}, place(alarm) || names.region(alarm.station_region_id, alarm.station_name)),
    h("small", {}, `${sourceLabel(alarm.source)} · ${formatClock(new Date(alarm.received_at))}`),
    h("button", { type: "button", class: "btn btn-sm", onclick: () => { el.remove(); onOpen(alarm.id); } }, t("Open")));
  return el;
}

/** Other console sections of staff: the badge, the sound and the toast; a click opens it on the map. */
export function initAlarmBell() {
  unlockSoundOnGesture();
  const feed = createFeed();
  const go = (id) => location.assign(`/#alarm-${id}`);
  feed.on("raised", (a, loud, event) => {
    updateBadge(feed);
    if (!loud) return;
    playAlarmSound();
    alarmToast(a, event, go);
  });
  feed.on("change", () => updateBadge(feed));
  feed.on("reset", () => updateBadge(feed));
  return feed;
}

// The staff feed: one alarms WebSocket kept in an AlarmStore, re-synced after a reconnect.

import { AlarmStore, connect } from "../alarm-client.js";
import { api, me, toast } from "../api.js";
import { t } from "../i18n.js";
import { CLOSED } from "./workflow.js";

/**
 * The staff feed: one WebSocket, an AlarmStore, and listeners. on("change", fn(alarm, event)),
 * on("raised", fn(alarm, loud)), on("task", fn(msg)), on("notice", fn(msg)), on("reset", fn()).
 */
export function createFeed() {
  const store = new AlarmStore();
  const listeners = { change: [], raised: [], task: [], notice: [], reset: [] };
  const emit = (name, ...args) => { for (const fn of listeners[name]) fn(...args); };
  let hellos = 0;
  // County-level staff hear escalations; the station (and village duty officers) hear new alarms.
  const county = me && me.role === "admin";

  function take(alarm, event) {
    const known = store.get(alarm.id);
    if (!store.put(alarm)) return;
    const loud = county ? event === "escalated" : event === "raised" || (!known && alarm.state === "new");
    if ((event === "raised" || event === "escalated" || !known) && !CLOSED.has(alarm.state)) emit("raised", alarm, loud, event);
    emit("change", store.get(alarm.id), event);
  }

  async function resync() {
    try {
      const list = await api("/alarms", { query: { open: true, limit: 200 }, quiet: true });
      store.reset(list);
      emit("reset");
    } catch { /* the next hello will bring it */ }
  }

  connect({
    hello: (msg) => {
      hellos += 1;
      if (hellos === 1) {
        store.reset(msg.alarms || []);
        emit("reset");
        const waiting = store.open().filter((a) => a.state === "new").length;
        if (waiting) toast(t("Alarms waiting for acknowledgement: {n}", { n: waiting }), "error", 8000);
        return;
      }
      // Back after a disconnect: alarms raised meanwhile are news; the rest is a refresh.
      const fresh = (msg.alarms || []).filter((a) => !store.get(a.id));
      store.reset((msg.alarms || []).filter((a) => store.get(a.id)));
      emit("reset");
      for (const a of fresh) take(a, "raised");
    },
    alarm: (msg) => take(msg.alarm, msg.event),
    task: (msg) => emit("task", msg),
    notice: (msg) => emit("notice", msg), // a station notice (a missed patrol checkpoint or care visit)
    resync,
    online: (up) => document.body.classList.toggle("alarm-feed-down", !up),
  });

  return {
    store,
    on(name, fn) { listeners[name].push(fn); },
    open: () => store.open(),
    /** A copy from our own request (an action's answer, a re-read): listeners hear it as "reload". */
    update(alarm) { if (store.put(alarm)) emit("change", store.get(alarm.id), "reload"); },
  };
}

// Alarms on the PC console.
//
// Staff (permission handle_alarms): a live feed over the alarms WebSocket drives the queue panel, the
// badge on the "Alarms" tab, the map markers, and on `raised` the sound, a toast and the nearest cameras
// (alarm.cameras, covering first) opened live on the wall at once. The detail panel acknowledges,
// dispatches, marks on scene, resolves or marks false alarm (the server's 409 message is shown when
// someone else acted first), takes notes, and activates / stands down the village plan with its guard
// points on the map, manned or not, updated live from task events.
// The /alarms page: history with filters, CSV export, and per-station figures with a bar chart.
// People who may raise but not handle alarms (residents...) get a "One-click alarm" button instead.

import { AlarmRefused, AlarmStore, ago, alarmKindLabel, connect, duration, eventLabel, playAlarmSound, raise,
  refusedText, soundReady, sourceLabel, stateLabel, statusText, unlockSoundOnGesture } from "./alarm-client.js";
import { ApiError, api, me, toast } from "./api.js";
import { $, h } from "./dom.js";
import { formatClock, formatDateTime, t, timezone } from "./i18n.js";

const CLOSED = new Set(["resolved", "false_alarm"]);
// Mirrors alarms/workflow.py: which states each action may start from (the server decides; this only
// greys out buttons that cannot work).
const ACTIONS = [
  { action: "acknowledge", path: "acknowledge", from: ["new"], label: () => t("Acknowledge") },
  { action: "dispatch", path: "dispatch", from: ["acknowledged"], label: () => t("Dispatch…"), form: "dispatch" },
  { action: "on_scene", path: "on-scene", from: ["dispatched"], label: () => t("On scene") },
  { action: "resolve", path: "resolve", from: ["acknowledged", "dispatched", "on_scene"], label: () => t("Resolve…"),
    form: "note" },
  { action: "false_alarm", path: "false-alarm", from: ["acknowledged", "dispatched", "on_scene"],
    label: () => t("False alarm…"), form: "note" },
];
const NEXT = { new: "acknowledge", acknowledged: "dispatch", dispatched: "on_scene", on_scene: "resolve" };

/** The server's words for a refused step, in the operator's language where we know the code. */
function conflictText(err) {
  if (!(err instanceof ApiError)) return String(err);
  const ours = {
    illegal_transition: t("Not possible in the alarm's current state; someone may have acted first."),
    already_mobilized: t("The village plan is already activated for this alarm."),
    already_stood_down: t("Already stood down."),
    alarm_closed: t("The alarm is closed."),
  }[err.code];
  return ours ? `${ours} (${err.detail})` : err.message;
}

// Names in the page's language where the console knows the place (the alarm carries the Chinese ones).
const names = { region: (id, fallback) => fallback, camera: (id, fallback) => fallback };

function place(alarm) {
  return [names.region(alarm.region_id, alarm.region_name), alarm.household_head || alarm.household_address]
    .filter(Boolean).join(" · ");
}

function ackSeconds(alarm) {
  if (!alarm.acknowledged_at) return null;
  return (new Date(alarm.acknowledged_at) - new Date(alarm.received_at)) / 1000;
}

/** Wall-clock start of a yyyy-mm-dd day in the platform's time zone, as an ISO instant. */
function zonedDayStart(day, plusDays = 0) {
  const [y, m, d] = day.split("-").map(Number);
  const guess = Date.UTC(y, m - 1, d + plusDays);
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", {
    timeZone: timezone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(new Date(guess)).map((p) => [p.type, p.value]));
  const shown = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour, +parts.minute, +parts.second);
  return new Date(guess - (shown - guess)).toISOString();
}

// ------------------------------------------------------------------------------------------------- feed

/**
 * The staff feed: one WebSocket, an AlarmStore, and listeners. on("change", fn(alarm, event)),
 * on("raised", fn(alarm, loud)), on("task", fn(msg)), on("reset", fn()).
 */
function createFeed() {
  const store = new AlarmStore();
  const listeners = { change: [], raised: [], task: [], reset: [] };
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

function updateBadge(feed) {
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
function alarmToast(alarm, event, onOpen) {
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

// ----------------------------------------------------------------------------------------------- detail

/**
 * The alarm detail: fields, workflow buttons, notes, cameras, mobilization, timeline.
 * hooks: openCameras(alarm), showOnMap(alarm), onMobilization(alarm, view|null), compact (no camera hooks).
 */
function createDetail(container, feed, hooks = {}) {
  const st = { id: null, detail: null, mob: null, plan: null, error: "", busy: false, seq: 0, refetch: 0 };

  function alarm() { return feed.store.get(st.id) || st.detail; }

  async function load() {
    const id = st.id;
    const seq = ++st.seq;
    let detail;
    try { detail = await api(`/alarms/${id}`, { quiet: true }); } catch (err) {
      if (seq === st.seq) { st.error = conflictText(err); render(); }
      return;
    }
    if (seq !== st.seq) return;
    st.detail = detail;
    feed.update(detail);
    const mobilized = (detail.events || []).some((e) => e.action === "mobilized");
    if (mobilized) {
      try {
        const [mob, plan] = await Promise.all([api(`/alarms/${id}/mobilization`, { quiet: true }),
          st.plan ? Promise.resolve(st.plan) : api(`/alarms/plans/${detail.region_id}`, { quiet: true }).catch(() => null)]);
        if (seq !== st.seq) return;
        st.mob = mergeMob(mob, st.mob);
        st.plan = plan;
      } catch { st.mob = null; }
    }
    render();
    if (hooks.onMobilization) hooks.onMobilization(alarm(), st.mob ? mobView() : null);
  }

  /** Shows alarm `id`; `after` (a promise) holds back reading the timeline, e.g. until the cameras
   * of a new alarm are open, so the live video does not queue behind it. */
  function show(id, { after = null } = {}) {
    if (st.id !== id) Object.assign(st, { id, detail: null, mob: null, plan: null, error: "" });
    if (alarm()) render();
    else container.replaceChildren(h("div", { class: "empty", dataset: { alarmLoading: id } }, t("Loading…")));
    if (after) after.finally(() => { if (st.id === id) load(); });
    else load();
  }

  function refresh() {
    // Several events can land together (acknowledged + a note): one re-read of the timeline.
    clearTimeout(st.refetch);
    st.refetch = setTimeout(load, 120);
  }

  /** Guard points of the plan with their tasks: manned (someone in position) and since when. */
  /** A mobilization read over HTTP may predate a task event that the WebSocket already delivered:
   * keep whichever copy of each task is further along, so a manned point never flips back. */
  function mergeMob(fresh, known) {
    if (!fresh || !known || known.id !== fresh.id) return fresh;
    const rank = { assigned: 0, in_position: 1, closed: 2 };
    const seen = new Map(known.tasks.map((x) => [x.id, x]));
    return { ...fresh, tasks: fresh.tasks.map((x) => {
      const k = seen.get(x.id);
      return k && rank[k.state] > rank[x.state] ? k : x;
    }) };
  }

  function mobView() {
    const tasks = st.mob ? st.mob.tasks : [];
    const points = new Map();
    for (const p of (st.plan && st.plan.points) || []) points.set(p.id, { id: p.id, name: p.name, kind: p.kind, lat: p.lat, lon: p.lon, tasks: [] });
    for (const task of tasks) {
      if (!points.has(task.point_id)) {
        points.set(task.point_id, { id: task.point_id, name: task.point_name, kind: task.point_kind, lat: task.lat, lon: task.lon, tasks: [] });
      }
      points.get(task.point_id).tasks.push(task);
    }
    const list = [...points.values()].map((p) => {
      const inPos = p.tasks.filter((x) => x.state === "in_position" && x.in_position_at);
      const since = inPos.length ? inPos.map((x) => x.in_position_at).sort()[0] : null;
      return { ...p, manned: inPos.length > 0, since };
    });
    return { points: list, active: Boolean(st.mob && !st.mob.stood_down_at), mob: st.mob };
  }

  async function act(spec, body) {
    const a = alarm();
    st.busy = true;
    st.error = "";
    render();
    try {
      const out = await api(`/alarms/${a.id}/${spec.path}`, { method: "POST", body: body || {}, quiet: true });
      feed.update(out); // the panel shows the new state; no toast needed
      // The push of this change may arrive after this answer and then be dropped as already known:
      // re-read the timeline here, not only on the push.
      refresh();
    } catch (err) {
      st.error = conflictText(err);
      if (err instanceof ApiError && err.status === 409) refresh(); // show what the state really is now
    } finally {
      st.busy = false;
    }
    render();
  }

  async function mobilize(stand) {
    const a = alarm();
    st.busy = true;
    st.error = "";
    render();
    try {
      const [mob, plan] = await Promise.all([
        api(`/alarms/${a.id}/${stand ? "stand-down" : "mobilize"}`, { method: "POST", quiet: true }),
        st.plan ? Promise.resolve(st.plan) : api(`/alarms/plans/${a.region_id}`, { quiet: true }).catch(() => null),
      ]);
      st.mob = mob;
      st.plan = plan;
      toast(stand ? t("Stood down: all guard tasks are closed.") : t("Village plan activated: {n} people notified.", { n: mob.tasks.length }), "ok");
    } catch (err) {
      st.error = conflictText(err);
    } finally {
      st.busy = false;
    }
    render();
    if (hooks.onMobilization) hooks.onMobilization(alarm(), st.mob ? mobView() : null, { fit: !stand });
    refresh();
  }

  function task(msg) {
    if (!st.mob || msg.task.mobilization_id !== st.mob.id) return;
    st.mob = { ...st.mob, tasks: st.mob.tasks.some((x) => x.id === msg.task.id)
      ? st.mob.tasks.map((x) => (x.id === msg.task.id ? msg.task : x)) : [...st.mob.tasks, msg.task] };
    render();
    if (hooks.onMobilization) hooks.onMobilization(alarm(), mobView());
  }

  // Forms: dispatch (to whom), and a note for resolve / false alarm ---------------------------------------
  const dialog = h("dialog", { class: "dialog alarm-dialog", "aria-labelledby": "alarm-dialog-title" });
  document.body.append(dialog);

  async function guards(a) {
    if (!st.plan) st.plan = await api(`/alarms/plans/${a.region_id}`, { quiet: true }).catch(() => null);
    const seen = new Map();
    for (const p of (st.plan && st.plan.points) || []) {
      p.assignees.forEach((uid, i) => { if (!seen.has(uid)) seen.set(uid, `${p.assignee_names[i]} · ${p.name}`); });
    }
    return seen;
  }

  async function openForm(spec) {
    const a = alarm();
    const title = h("h2", { id: "alarm-dialog-title" }, [spec.label().replace("…", ""), t("Alarm no. {id}", { id: a.id })].join(" · "));
    const note = h("textarea", { class: "field", name: "note", rows: 3, maxlength: 2000, id: "alarm-note-field",
      placeholder: spec.action === "false_alarm" ? t("Why it is a false alarm (required)") : t("Note (optional)") });
    const err = h("p", { class: "form-error", role: "alert", hidden: true });
    const parts = [title];
    let to = null;
    let pick = null;
    if (spec.form === "dispatch") {
      to = h("input", { class: "field", name: "to", id: "alarm-to-field", maxlength: 200, required: true, autocomplete: "off",
        placeholder: t("e.g. patrol 2, duty officer Li") });
      pick = h("select", { class: "field", id: "alarm-to-pick" }, h("option", { value: "" }, t("— or pick a guard of the village —")));
      for (const [uid, label] of await guards(a)) pick.append(h("option", { value: uid }, label));
      pick.addEventListener("change", () => {
        if (pick.value) to.value = pick.selectedOptions[0].textContent.split(" · ")[0];
      });
      parts.push(h("label", { class: "lbl", for: "alarm-to-field" }, t("Dispatch to")), to, pick);
    }
    parts.push(h("label", { class: "lbl", for: "alarm-note-field" }, t("Note")), note, err,
      h("div", { class: "dialog-actions" },
        h("button", { type: "button", class: "btn", onclick: () => dialog.close() }, t("Cancel")),
        h("button", { type: "submit", class: `btn ${spec.action === "false_alarm" ? "btn-danger" : "btn-primary"}`, id: "alarm-form-ok" },
          spec.label().replace("…", ""))));
    const form = h("form", { method: "dialog", novalidate: true }, ...parts);
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const body = { note: note.value.trim() };
      if (to) {
        if (!to.value.trim()) { err.textContent = t("Say to whom the alarm is dispatched."); err.hidden = false; return; }
        body.to = to.value.trim();
        if (pick.value && to.value.trim() === pick.selectedOptions[0].textContent.split(" · ")[0]) body.user_id = Number(pick.value);
      }
      if (spec.action === "false_alarm" && !body.note) { err.textContent = t("Please say why it is a false alarm."); err.hidden = false; return; }
      dialog.close();
      act(spec, body);
    });
    dialog.replaceChildren(form);
    dialog.showModal();
    (to || note).focus();
  }

  async function addNote(input) {
    const text = input.value.trim();
    if (!text) return;
    try {
      const out = await api(`/alarms/${st.id}/notes`, { method: "POST", body: { note: text }, quiet: true });
      feed.update(out);
      input.value = "";
      refresh();
    } catch (err) {
      st.error = conflictText(err);
      render();
    }
  }

  // Rendering ------------------------------------------------------------------------------------------------
  function render() {
    const a = alarm();
    if (!a || st.id === null) return;
    const closed = CLOSED.has(a.state);
    const row = (label, value) => (value === null || value === undefined || value === "" ? [] : [h("dt", {}, label), h("dd", {}, value)]);
    const tta = ackSeconds(a);
    const fields = [
      row(t("Village"), names.region(a.region_id, a.region_name)),
      row(t("Household"), a.household_head ? `${a.household_head}${a.household_code ? ` (${a.household_code})` : ""}` : ""),
      row(t("Address"), a.household_address),
      row(t("Phone"), a.household_phone ? h("a", { href: `tel:${a.household_phone}` }, a.household_phone) : ""),
      row(t("Received"), a.received_at ? `${formatDateTime(a.received_at)} (${ago(a.received_at)})` : ""),
      row(t("Raised from"), a.source ? sourceLabel(a.source) : ""),
      row(t("Presses"), a.press_count > 1 ? String(a.press_count) : ""),
      row(t("Station"), names.region(a.station_region_id, a.station_name)),
      row(t("Location"), a.lat !== null && a.lat !== undefined ? `${a.lat.toFixed(5)}, ${a.lon.toFixed(5)}` : ""),
      row(t("Time to acknowledge"), tta !== null ? duration(tta) : ""),
      row(t("Dispatched to"), a.dispatched_to),
      row(t("Note from the sender"), a.note),
    ].flat();
    const buttons = ACTIONS.map((spec) => {
      const legal = spec.from.includes(a.state);
      return h("button", {
        type: "button", dataset: { action: spec.action },
        class: `btn btn-sm${NEXT[a.state] === spec.action ? " btn-primary" : ""}${spec.action === "false_alarm" ? " btn-danger" : ""}`,
        disabled: st.busy || !legal,
        title: legal ? null : (a.state === "new" ? t("Acknowledge the alarm first") : t("Not possible in this state")),
        onclick: () => (spec.form ? openForm(spec) : act(spec)),
      }, spec.label());
    });
    const cams = (a.cameras || []).map((c) => h("li", {},
      h(hooks.openCamera ? "button" : "div", { type: hooks.openCamera ? "button" : null, class: "alarm-cam",
        dataset: { cameraId: c.camera_id }, onclick: hooks.openCamera ? () => hooks.openCamera(c.camera_id) : null },
      h("span", { class: "alarm-cam-name" }, names.camera(c.camera_id, c.name)),
      h("span", { class: "alarm-cam-sub" }, `${Math.round(c.distance_m)} m`,
        c.covers ? h("span", { class: "badge badge-ok" }, t("sees the place")) : null))));
    const mob = st.mob ? mobView() : null;
    const events = (st.detail && st.detail.id === a.id && st.detail.events) || [];
    const closedWord = t("closed");

    container.replaceChildren(h("div", { class: `alarm-detail state-${a.state}${a.escalation_level ? " escalated" : ""}`,
      dataset: { alarmId: a.id, state: a.state } },
    h("div", { class: "alarm-detail-head" },
      h("span", { class: "alarm-detail-icon", "aria-hidden": "true" }, "!"),
      h("div", {},
        h("h2", {}, t("Alarm no. {id}: {kind}", { id: a.id, kind: alarmKindLabel(a.kind) })),
        h("p", { class: "muted" }, place(a)))),
    h("div", { class: "detail-badges" },
      h("span", { class: `badge alarm-state state-${a.state}` }, stateLabel(a.state)),
      a.escalation_level ? h("span", { class: "badge badge-danger" }, t("Escalated (level {n})", { n: a.escalation_level })) : null,
      a.state === "new" && a.ack_due_at ? h("span", { class: "badge" }, t("acknowledge by {time}", { time: formatClock(new Date(a.ack_due_at)) })) : null),
    st.error ? h("p", { class: "form-error alarm-error", role: "alert" }, st.error) : null,
    closed
      ? h("p", { class: "alarm-closed-note" }, t("Closed {time}", { time: a.closed_at ? formatDateTime(a.closed_at) : "" }))
      : h("div", { class: "alarm-actions" }, buttons),
    h("dl", { class: "detail-fields" }, fields),
    cams.length ? h("section", { class: "alarm-sec" },
      h("div", { class: "alarm-sec-head" }, h("h3", {}, t("Nearest cameras")),
        hooks.openCameras ? h("button", { type: "button", class: "btn btn-sm", onclick: () => hooks.openCameras(a) }, t("Open all live")) : null),
      h("ul", { class: "alarm-cams" }, cams)) : null,
    closed && !mob ? null : h("section", { class: "alarm-sec alarm-mob" },
      h("div", { class: "alarm-sec-head" }, h("h3", {}, t("Village plan")),
        mob && mob.active ? h("span", { class: "badge badge-brand", id: "mob-count" },
          t("{manned} of {total} points manned", { manned: mob.points.filter((p) => p.manned).length, total: mob.points.length })) : null),
      mob ? h("ul", { class: "mob-points" }, mob.points.map((p) => h("li", {
        class: `mob-point${p.manned ? " manned" : ""}`, dataset: { pointId: p.id, manned: String(p.manned) } },
      h("span", { class: "mob-dot", "aria-hidden": "true" }),
      h("span", { class: "mob-main" },
        h("span", { class: "mob-name" }, p.name),
        h("span", { class: "mob-sub" }, p.tasks.length
          ? p.tasks.map((x) => x.user_name + ({ in_position: " ✓", closed: ` (${closedWord})` }[x.state] || "")).join("、")
          : t("no one assigned"))),
      h("span", { class: "mob-state" }, p.manned
        ? t("manned since {time} ({ago})", { time: formatClock(new Date(p.since)), ago: duration((Date.now() - new Date(p.since)) / 1000) })
        : t("not manned"))))) : h("p", { class: "muted" }, t("Send the volunteers and grid workers of the village to its guard points.")),
      h("div", { class: "alarm-sec-actions" },
        !mob ? h("button", { type: "button", class: "btn btn-sm btn-primary", id: "mob-activate", disabled: st.busy || closed,
          onclick: () => mobilize(false) }, t("Activate plan")) : null,
        mob && mob.active ? h("button", { type: "button", class: "btn btn-sm", id: "mob-stand-down", disabled: st.busy,
          onclick: () => mobilize(true) }, t("Stand down")) : null,
        mob && !mob.active ? h("span", { class: "muted" }, t("Stood down at {time}", { time: formatClock(new Date(mob.mob.stood_down_at)) })) : null)),
    h("section", { class: "alarm-sec" },
      h("h3", {}, t("Timeline")),
      h("ol", { class: "alarm-timeline" }, events.length ? events.map((e) => h("li", { class: `ev ev-${e.action}` },
        h("span", { class: "ev-time" }, formatClock(new Date(e.at))),
        h("span", { class: "ev-main" },
          h("strong", {}, eventLabel(e.action)),
          e.actor ? h("span", { class: "muted" }, ` · ${e.actor}`) : null,
          e.detail && e.detail.dispatched_to ? h("span", {}, ` → ${e.detail.dispatched_to}`) : null,
          e.note ? h("span", { class: "ev-note" }, e.note) : null)))
        : [h("li", { class: "muted" }, t("Loading…"))]),
      h("form", { class: "alarm-note-form", onsubmit: (e) => { e.preventDefault(); addNote(e.currentTarget.elements.note); } },
        h("input", { class: "field", name: "note", maxlength: 2000, autocomplete: "off", placeholder: t("Add a note…"),
          "aria-label": t("Add a note") }),
        h("button", { type: "submit", class: "btn btn-sm" }, t("Add"))))));
  }

  return {
    show,
    task,
    refresh,
    current: () => st.id,
    /** Called on every change of an alarm: re-render (and re-read the timeline) if it is the one shown. */
    changed(a, event) {
      if (a.id !== st.id || !container.querySelector(`.alarm-detail[data-alarm-id="${a.id}"]`)) return;
      render();
      if (event !== "reload" && event !== "raised") refresh(); // show() reads a new alarm's timeline
    },
    visible: () => Boolean(st.id !== null && container.querySelector(`.alarm-detail[data-alarm-id="${st.id}"]`)),
  };
}

// --------------------------------------------------------------------------------------------- console

function sortQueue(list) {
  const rank = (a) => (a.escalation_level > 0 && a.state === "new" ? 0 : a.state === "new" ? 1 : 2);
  return [...list].sort((a, b) => rank(a) - rank(b) || b.id - a.id);
}

function queueItem(a, selected, onSelect) {
  return h("li", {}, h("button", {
    type: "button", class: `alarm-item state-${a.state}${a.escalation_level ? " escalated" : ""}${selected ? " selected" : ""}`,
    dataset: { alarmId: a.id, state: a.state }, onclick: () => onSelect(a.id),
  },
  h("span", { class: "alarm-item-dot", "aria-hidden": "true" }),
  h("span", { class: "alarm-item-main" },
    h("span", { class: "alarm-item-title" }, t("No. {id}", { id: a.id }), " ", alarmKindLabel(a.kind)),
    h("span", { class: "alarm-item-sub" },
      [place(a), formatClock(new Date(a.received_at)), ago(a.received_at)].filter(Boolean).join(" · "))),
  h("span", { class: "alarm-item-flags" },
    a.escalation_level ? h("span", { class: "flag flag-off" }, t("Escalated")) : null,
    a.press_count > 1 ? h("span", { class: "flag" }, `×${a.press_count}`) : null,
    h("span", { class: `badge alarm-state state-${a.state}` }, stateLabel(a.state)))));
}

function alarmMarker(a, selected, onClick) {
  return {
    lat: a.lat, lon: a.lon, cls: `alarm-pin state-${a.state}${selected ? " selected" : ""}${a.escalation_level ? " escalated" : ""}`,
    title: [t("Alarm no. {id}", { id: a.id }), place(a)].join(" · "), dataset: { alarmId: a.id },
    onClick: () => onClick(a.id),
    nodes: [h("svg:circle", { class: "alarm-pulse", r: 16 }), h("svg:circle", { class: "alarm-core", r: 9 }),
      h("svg:text", { class: "alarm-mark", "text-anchor": "middle", dy: "0.36em" }, "!")],
  };
}

function guardMarker(p) {
  return {
    lat: p.lat, lon: p.lon, cls: `guard-pin${p.manned ? " manned" : ""}`, dataset: { pointId: p.id, manned: String(p.manned) },
    title: [p.name, p.manned ? t("manned") : t("not manned")].join(" · "),
    nodes: [h("svg:rect", { x: -7, y: -7, width: 14, height: 14, rx: 3 }),
      h("svg:text", { class: "guard-label", x: 11, dy: "0.35em" }, p.name)],
  };
}

/**
 * The cameras section for staff: `map`, `wall` (createWall), `showTab(name)` ("map" | "wall" | "split"),
 * `openLive({id}, {tile})`, and `regionName(id, fallback)`, `cameraName(id, fallback)` come from console.js.
 */
export function initAlarmConsole({ map, showTab, openLive, setWallLayout, regionName, cameraName }) {
  if (regionName) names.region = regionName;
  if (cameraName) names.camera = cameraName;
  unlockSoundOnGesture();
  const feed = createFeed();
  const queue = $("#alarm-queue");
  const detailEl = $("#detail");
  let selected = null;

  const detail = createDetail(detailEl, feed, {
    openCamera: (id) => openLive({ id }),
    openCameras: (a) => openCameras(a),
    onMobilization: (a, view, { fit = false } = {}) => {
      const points = view && view.active ? view.points : [];
      map.setOverlay("guard", points.map(guardMarker));
      if (fit && points.length) map.fitPoints([...points, a].filter((p) => p.lat !== null && p.lat !== undefined));
    },
  });

  // Several changes can come in one message or burst: draw the queue and the markers once for them.
  let queued = false;
  function renderQueue() {
    if (queued) return;
    queued = true;
    queueMicrotask(() => { queued = false; drawQueue(); });
  }

  function drawQueue() {
    const open = sortQueue(feed.open());
    $("#alarm-count").textContent = String(open.length);
    $("#alarm-count").classList.toggle("badge-danger", open.some((a) => a.state === "new"));
    queue.replaceChildren(...(open.length ? open.map((a) => queueItem(a, a.id === selected, select))
      : [h("li", { class: "empty" }, t("No open alarms."))]));
    map.setOverlay("alarms", open.filter((a) => a.lat !== null && a.lat !== undefined)
      .map((a) => alarmMarker(a, a.id === selected, select)));
    updateBadge(feed);
  }

  /** The alarm's nearest cameras live on the wall, covering ones first, in tiles 1.. in that order.
   * Resolves when the video requests are answered. */
  function openCameras(a) {
    const cams = (a.cameras || []).slice(0, 4);
    if (!cams.length) return Promise.resolve();
    setWallLayout(cams.length > 1 ? 4 : 1, { onlyGrow: true });
    showTab("split");
    return Promise.allSettled(cams.map((c, i) => openLive({ id: c.camera_id }, { tile: i })));
  }

  function select(id, { cameras = true, opening = null } = {}) {
    const a = feed.store.get(id);
    if (!a) return;
    selected = id;
    // The camera requests go out first: the live picture is what the operator needs soonest.
    if (!opening && cameras) opening = openCameras(a);
    renderQueue();
    detail.show(id, { after: opening });
    // No animation while the video is being set up: every frame of it would compete for the CPU.
    if (a.lat !== null && a.lat !== undefined) map.focusPoint(a.lat, a.lon, 1400, { animate: !opening });
    if (location.hash !== `#alarm-${id}`) history.replaceState(null, "", `#alarm-${id}`);
  }

  feed.on("raised", (a, loud, event) => {
    const current = selected && feed.store.get(selected);
    // Take the operator straight to it unless they are busy with another open alarm. Order matters for
    // the first second: the toast shows, the camera requests go out, then the rest is drawn.
    const take = loud && (!current || CLOSED.has(current.state) || current.id === a.id);
    if (loud) alarmToast(a, event, (id) => select(id));
    const opening = take ? openCameras(a) : null;
    if (take) select(a.id, { opening });
    renderQueue();
    if (loud) playAlarmSound();
  });
  feed.on("change", (a, event) => {
    renderQueue();
    detail.changed(a, event);
    if (event === "escalated" && me.role !== "admin") {
      toast(t("Alarm no. {id} was not acknowledged in time and went to the county.", { id: a.id }), "error", 10000);
    }
    if (event === "pressed") toast(t("Alarm no. {id} pressed again ({n} times).", { id: a.id, n: a.press_count }), "error", 6000);
  });
  feed.on("reset", () => {
    renderQueue();
    const m = /^#alarm-(\d+)$/.exec(location.hash);
    if (m && selected === null && feed.store.get(Number(m[1]))) select(Number(m[1]));
    else if (selected !== null && detail.visible()) detail.refresh();
  });
  feed.on("task", (msg) => detail.task(msg));

  const soundBtn = $("#alarm-sound");
  if (soundBtn) {
    const mark = () => {
      const ready = soundReady();
      soundBtn.classList.toggle("off", !ready);
      soundBtn.textContent = ready ? t("Sound on") : t("Click to enable sound");
    };
    soundBtn.addEventListener("click", () => { playAlarmSound({ repeats: 1 }); setTimeout(mark, 100); });
    window.addEventListener("pointerdown", () => setTimeout(mark, 100), { once: true });
    mark();
  }
  setInterval(() => { if (feed.open().length) renderQueue(); }, 30000); // keep "n min ago" current
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

// ---------------------------------------------------------------------------------------- raise (PC)

/** "One-click alarm" in the top bar for people who may raise but not handle alarms (residents...). */
export function initRaiseButton() {
  const btn = $("#raise-alarm");
  if (!btn) return;
  const store = new AlarmStore();
  const st = { phase: "idle", alarmId: null, attempt: 0, refused: "" };
  const title = h("h2", { id: "raise-title" });
  const text = h("p", { class: "raise-text" });
  const actions = h("div", { class: "dialog-actions" });
  const dialog = h("dialog", { class: "dialog raise-dialog", "aria-labelledby": "raise-title" }, title, text, actions);
  document.body.append(dialog);

  function render() {
    const a = st.alarmId ? store.get(st.alarmId) : null;
    dialog.dataset.phase = st.phase;
    dialog.dataset.status = a ? a.status : "";
    const close = h("button", { type: "button", class: "btn", onclick: () => dialog.close() }, t("Close"));
    if (st.phase === "confirm") {
      title.textContent = t("Call the police station?");
      text.textContent = t("The police station gets your alarm at once, with your household and address.");
      actions.replaceChildren(h("button", { type: "button", class: "btn", onclick: () => dialog.close() }, t("Cancel")),
        h("button", { type: "button", class: "btn btn-alarm", id: "raise-confirm", onclick: send }, t("Call now")));
    } else if (st.phase === "sending") {
      title.textContent = t("Calling the police station…");
      text.textContent = st.attempt > 1 ? t("No answer yet. Still trying (attempt {n}).", { n: st.attempt }) : t("Please wait a moment.");
      actions.replaceChildren(close);
    } else if (st.phase === "refused") {
      title.textContent = t("The alarm was not sent");
      text.textContent = st.refused;
      actions.replaceChildren(close);
    } else if (a) {
      title.textContent = statusText(a.status);
      text.textContent = t("Alarm no. {id} · received {time}", { id: a.id, time: formatDateTime(a.received_at) });
      actions.replaceChildren(close);
    }
  }

  async function send() {
    st.phase = "sending";
    st.attempt = 1;
    render();
    try {
      const out = await raise({ source: "pc" }, { onAttempt: ({ attempt }) => { st.attempt = attempt; render(); } });
      store.put(out.alarm);
      st.alarmId = out.alarm.id;
      st.phase = "status";
    } catch (err) {
      st.phase = "refused";
      st.refused = err instanceof AlarmRefused ? refusedText(err) : String(err);
    }
    render();
    btn.classList.toggle("active", st.phase === "status");
  }

  btn.addEventListener("click", () => {
    if (st.phase !== "sending") st.phase = "confirm";
    render();
    dialog.showModal();
  });
  connect({
    hello: (msg) => { store.reset(msg.alarms || []); render(); },
    alarm: (msg) => {
      if (store.put(msg.alarm) && msg.alarm.id === st.alarmId && st.phase === "status") {
        render();
        if (!dialog.open) toast(statusText(msg.alarm.status), "ok", 8000);
      }
    },
  });
}

// --------------------------------------------------------------------------------------------- history

function pct(x) { return x === null || x === undefined ? "—" : `${Math.round(x * 1000) / 10}%`; }
function secs(x) { return x === null || x === undefined ? "—" : duration(x); }

/** Bars of the time to acknowledge (p50 / p90 / p98.5) per station, with the 30 s and 60 s yardsticks. */
function statsChart(rows) {
  const W = 360;
  const rowH = 58;
  const left = 78;
  const H = rows.length * rowH + 34;
  const max = Math.max(90, ...rows.flatMap((r) => [r.tta_p50_s || 0, r.tta_p90_s || 0, r.tta_p985_s || 0])) * 1.1;
  const x = (s) => left + ((W - left - 12) * s) / max;
  const svg = h("svg:svg", { viewBox: `0 0 ${W} ${H}`, class: "stats-chart", role: "img",
    "aria-label": t("Time to acknowledge per station") });
  for (const s of [30, 60]) {
    svg.append(h("svg:line", { x1: x(s), x2: x(s), y1: 4, y2: H - 22, class: "yardstick" }),
      h("svg:text", { x: x(s), y: H - 8, "text-anchor": "middle", class: "axis" }, t("{n} s", { n: s })));
  }
  rows.forEach((r, i) => {
    const y0 = 8 + i * rowH;
    svg.append(h("svg:text", { x: 0, y: y0 + 26, class: "station" }, r.station_name));
    [["tta_p50_s", "p50"], ["tta_p90_s", "p90"], ["tta_p985_s", "p98.5"]].forEach(([key, label], j) => {
      const v = r[key];
      const y = y0 + j * 16;
      svg.append(h("svg:rect", { x: left, y, width: v === null ? 0 : Math.max(1, x(v) - left), height: 12, rx: 2,
        class: `bar bar-${label.replace(".", "")}` }, h("svg:title", {}, `${r.station_name} ${label}: ${secs(v)}`)));
      svg.append(h("svg:text", { x: (v === null ? left : x(v)) + 4, y: y + 10, class: "bar-label" },
        `${label} ${v === null ? "—" : secs(v)}`));
    });
  });
  return svg;
}

export function initAlarmHistory() {
  const feed = initAlarmBell();
  const form = $("#alarm-filters");
  const body = $("#alarm-table tbody");
  const exportLink = $("#alarm-export");
  const PAGE = 50;
  const st = { offset: 0 };
  const dialog = $("#alarm-dialog");
  const detail = createDetail($("#alarm-dialog-body"), feed, {});
  dialog.querySelector("[data-close]").addEventListener("click", () => dialog.close());

  function filters() {
    const q = { state: form.state.value, kind: form.kind.value };
    if (form.since.value) q.since = zonedDayStart(form.since.value);
    if (form.until.value) q.until = zonedDayStart(form.until.value, 1); // through the end of that day
    return q;
  }

  function exportHref(q) {
    const url = new URL("/api/v1/alarms/export.csv", location.origin);
    for (const [k, v] of Object.entries(q)) if (v) url.searchParams.set(k, v);
    return url.pathname + url.search;
  }

  async function load() {
    const q = filters();
    exportLink.href = exportHref(q);
    let rows;
    try { rows = await api("/alarms", { query: { ...q, limit: PAGE + 1, offset: st.offset } }); } catch { return; }
    const more = rows.length > PAGE;
    rows = rows.slice(0, PAGE);
    body.replaceChildren(...(rows.length ? rows.map((a) => h("tr", { dataset: { alarmId: a.id }, class: `alarm-row state-${a.state}${a.escalation_level ? " escalated" : ""}`,
      onclick: () => open(a.id) },
    h("td", { class: "num" }, a.id),
    h("td", { class: "nowrap" }, formatDateTime(a.received_at)),
    h("td", {}, place(a)),
    h("td", {}, alarmKindLabel(a.kind)),
    h("td", {}, sourceLabel(a.source)),
    h("td", {}, h("span", { class: `badge alarm-state state-${a.state}` }, stateLabel(a.state)),
      a.escalation_level ? h("span", { class: "flag flag-off" }, t("Escalated")) : null),
    h("td", { class: "nowrap" }, ackSeconds(a) === null ? "—" : duration(ackSeconds(a))),
    h("td", {}, a.dispatched_to || "—")))
      : [h("tr", {}, h("td", { colspan: 8, class: "empty" }, t("No alarms match these filters.")))]));
    $("#alarm-newer").disabled = st.offset === 0;
    $("#alarm-older").disabled = !more;
    $("#alarm-page").textContent = t("Page {n}", { n: st.offset / PAGE + 1 });
  }

  async function loadStats() {
    const q = filters();
    let rows;
    try { rows = await api("/alarms/stats", { query: { since: q.since, until: q.until } }); } catch { return; }
    const box = $("#alarm-stats");
    if (!rows.length) { box.replaceChildren(h("p", { class: "empty" }, t("No alarms in this period."))); return; }
    box.replaceChildren(statsChart(rows),
      h("div", { class: "table-wrap" }, h("table", { class: "table stats-table" },
        h("thead", {}, h("tr", {}, h("th", {}, t("Station")), h("th", { class: "num" }, t("Alarms")),
          h("th", { class: "num" }, "p50"), h("th", { class: "num" }, "p90"), h("th", { class: "num" }, "p98.5"),
          h("th", { class: "num" }, t("≤30 s")), h("th", { class: "num" }, t("≤60 s")),
          h("th", { class: "num" }, t("False")), h("th", { class: "num" }, t("Escalated")))),
        h("tbody", {}, rows.map((r) => h("tr", { dataset: { stationId: r.station_region_id } },
          h("td", {}, r.station_name), h("td", { class: "num" }, r.alarms),
          h("td", { class: "num" }, secs(r.tta_p50_s)), h("td", { class: "num" }, secs(r.tta_p90_s)),
          h("td", { class: "num" }, secs(r.tta_p985_s)), h("td", { class: "num" }, pct(r.acked_within_30s)),
          h("td", { class: "num" }, pct(r.acked_within_60s)), h("td", { class: "num" }, pct(r.false_alarm_share)),
          h("td", { class: "num" }, r.escalated)))))),
      h("p", { class: "muted stats-note" }, t("Time to acknowledge; shares are of all alarms (EN 50518 yardsticks: 30 s and 60 s). Technical alarms are not counted.")));
  }

  function open(id) {
    detail.show(id);
    dialog.showModal();
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); st.offset = 0; load(); loadStats(); });
  form.addEventListener("change", () => { exportLink.href = exportHref(filters()); });
  $("#alarm-older").addEventListener("click", () => { st.offset += PAGE; load(); });
  $("#alarm-newer").addEventListener("click", () => { st.offset = Math.max(0, st.offset - PAGE); load(); });
  feed.on("change", (a, event) => { detail.changed(a, event); });
  feed.on("task", (msg) => detail.task(msg));
  load();
  loadStats();
}

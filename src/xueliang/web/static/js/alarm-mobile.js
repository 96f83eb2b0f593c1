// The phone's one-click alarm and, for volunteers and grid workers, their mobilization tasks.
//
// Big red button -> confirm sheet -> the press is sent (same UUID until a 2xx) with the position if the
// phone gives one quickly (never waiting more than GEO_WAIT_MS for it) -> a status card: "received by
// the police station" only after the 2xx, then "an operator is on it" from the WebSocket.
// Tasks: GET /alarms/tasks/mine, then live `task` events; "I'm in position" confirms at the guard point.

import { AlarmRefused, AlarmStore, ago, connect, followed, pendingPress, playAlarmSound, raise, refusedText,
  statusText, unlockSoundOnGesture } from "./alarm-client.js";
import { api, me, toast } from "./api.js";
import { $, h } from "./dom.js";
import { formatClock, formatDateTime, t } from "./i18n.js";

const GEO_WAIT_MS = 1500; // after "Call now", at most this long for a position
const GEO_TIMEOUT_MS = 8000; // the lookup itself may go on longer and help the next press

function pointKindLabel(kind) {
  return { exit: t("Village exit"), control_line: t("Control line") }[kind] || kind;
}

/** A position if the phone has or quickly finds one (and the person allows it), else null. */
function locate() {
  return new Promise((resolve) => {
    if (!("geolocation" in navigator)) { resolve(null); return; }
    let done = false;
    const finish = (value) => { if (!done) { done = true; resolve(value); } };
    setTimeout(() => finish(null), GEO_TIMEOUT_MS);
    try {
      navigator.geolocation.getCurrentPosition(
        (p) => finish({ lat: p.coords.latitude, lon: p.coords.longitude }),
        () => finish(null),
        { enableHighAccuracy: true, timeout: GEO_TIMEOUT_MS, maximumAge: 60000 },
      );
    } catch {
      finish(null);
    }
  });
}

const within = (promise, ms) => Promise.race([promise, new Promise((resolve) => { setTimeout(() => resolve(null), ms); })]);

export function initMobileAlarm() {
  unlockSoundOnGesture();
  const store = new AlarmStore();
  const state = { phase: "idle", alarmId: null, attempt: 0, refused: "", geo: null, located: false };
  const button = $("#m-alarm");
  const card = $("#m-alarm-status");

  // Confirm sheet ------------------------------------------------------------------------------------
  const sheet = h("dialog", { class: "m-sheet", id: "m-alarm-confirm", "aria-labelledby": "m-alarm-confirm-title" },
    h("h2", { id: "m-alarm-confirm-title" }, t("Call the police station?")),
    h("p", {}, t("The police station gets your alarm at once. Your location is sent too if you allow it.")),
    h("button", { type: "button", class: "m-sheet-call", id: "m-alarm-call", onclick: () => confirmSend() },
      t("Call now")),
    h("button", { type: "button", class: "m-sheet-cancel", onclick: () => sheet.close() }, t("Cancel")));
  document.body.append(sheet);

  button.addEventListener("click", () => {
    if (state.phase === "sending") return;
    state.geo = locate(); // start now: by the time "Call now" is tapped there may be a fix
    sheet.showModal();
  });

  async function confirmSend() {
    sheet.close();
    const position = await within(state.geo || Promise.resolve(null), GEO_WAIT_MS);
    send(position ? { source: "app", lat: position.lat, lon: position.lon } : { source: "app" });
  }

  async function send(fields, resume = null) {
    state.phase = "sending";
    state.attempt = 1;
    state.located = Boolean(fields && fields.lat !== undefined) || Boolean(resume && resume.lat !== undefined);
    renderCard();
    try {
      const out = await raise(fields, {
        resume,
        onAttempt: ({ attempt }) => { state.attempt = attempt; renderCard(); },
      });
      store.put(out.alarm);
      state.alarmId = out.alarm.id;
      state.phase = "status";
      if (navigator.vibrate) navigator.vibrate(120);
    } catch (err) {
      state.phase = "refused";
      state.refused = err instanceof AlarmRefused ? refusedText(err) : String(err);
    }
    renderCard();
  }

  function renderCard() {
    const alarm = state.alarmId ? store.get(state.alarmId) : null;
    if (state.phase === "idle" || (state.phase === "status" && !alarm)) { card.hidden = true; return; }
    card.hidden = false;
    const status = state.phase === "status" ? alarm.status : state.phase;
    card.dataset.status = status;
    let head = "";
    let body = "";
    if (state.phase === "sending") {
      head = t("Calling the police station…");
      body = state.attempt > 1 ? t("No answer yet. Still trying (attempt {n}).", { n: state.attempt }) : t("Please wait a moment.");
    } else if (state.phase === "refused") {
      head = t("The alarm was not sent");
      body = state.refused;
    } else {
      head = statusText(status);
      body = {
        received: t("The police station has your alarm. Stay where you are safe; help is being arranged."),
        in_progress: t("An operator at the police station is handling your alarm."),
        closed: t("If you still need help, press the button again or call 110."),
      }[status] || "";
    }
    const metaText = alarm && state.phase === "status"
      ? [t("Alarm no. {id} · received {time}", { id: alarm.id, time: formatDateTime(alarm.received_at) }),
        alarm.press_count > 1 ? t("pressed {n} times", { n: alarm.press_count }) : "",
        state.located ? t("location sent") : ""].filter(Boolean).join(" · ")
      : "";
    card.replaceChildren(...[
      h("span", { class: "m-alarm-status-icon", "aria-hidden": "true" }, state.phase === "sending" ? "…" : state.phase === "refused" ? "!" : "✓"),
      h("div", { class: "m-alarm-status-main" },
        h("strong", { class: "m-alarm-status-head" }, head),
        h("span", {}, body),
        metaText ? h("small", {}, metaText) : null),
      status === "closed" || state.phase === "refused"
        ? h("button", { type: "button", class: "m-alarm-status-x", "aria-label": t("Close"),
          onclick: () => { state.phase = "idle"; state.alarmId = null; renderCard(); } }, "×")
        : null].filter(Boolean));
  }

  function applyAlarm(alarm) {
    if (!store.put(alarm)) return;
    if (state.phase === "sending") return; // "received" only after our own 2xx
    if (state.alarmId === alarm.id || (state.phase !== "refused" && !state.alarmId && alarm.status !== "closed")) {
      state.alarmId = alarm.id;
      state.phase = "status";
      renderCard();
    }
  }

  // Tasks ----------------------------------------------------------------------------------------------
  const taskList = $("#m-tasks");
  const tasks = new Map();

  function renderTasks() {
    if (!taskList) return;
    const all = [...tasks.values()].sort((a, b) => (a.state === "closed") - (b.state === "closed") || b.id - a.id);
    $("#m-tasks-count").textContent = String(all.filter((x) => x.state !== "closed").length);
    if (!all.length) {
      taskList.replaceChildren(h("li", { class: "empty" },
        t("No tasks now. When the police station activates the village plan, your guard point appears here.")));
      return;
    }
    taskList.replaceChildren(...all.map((task) => {
      const inPos = task.state === "in_position";
      const closed = task.state === "closed";
      let status;
      if (closed) status = t("Stood down. Thank you!");
      else if (inPos) status = t("In position since {time} ({ago})", { time: formatClock(new Date(task.in_position_at)), ago: ago(task.in_position_at) });
      else status = t("Go to this point, then confirm here.");
      return h("li", { class: `m-task state-${task.state}`, dataset: { taskId: task.id } },
        h("div", { class: "m-task-head" },
          h("strong", { class: "m-task-point" }, task.point_name),
          h("span", { class: "badge" }, pointKindLabel(task.point_kind))),
        h("div", { class: "m-task-sub" },
          t("Alarm no. {id} · assigned {time}", { id: task.alarm_id, time: formatClock(new Date(task.assigned_at)) })),
        h("div", { class: "m-task-status" }, status),
        closed || inPos ? null : h("button", { type: "button", class: "m-task-go", onclick: (e) => inPosition(task, e.currentTarget) },
          t("I'm in position")),
        closed ? null : h("a", { class: "m-task-map", href: `geo:${task.lat},${task.lon}` }, t("Open in the map app")));
    }));
  }

  async function inPosition(task, btn) {
    btn.disabled = true;
    try {
      const out = await api(`/alarms/tasks/${task.id}/in-position`, { method: "POST" });
      tasks.set(out.id, out);
      toast(t("Confirmed: you are in position at {point}.", { point: out.point_name }), "ok");
    } catch {
      btn.disabled = false;
    }
    renderTasks();
  }

  function applyTask(msg) {
    const task = msg.task;
    if (me && task.user_id !== me.id) return; // staff copies are for the console
    const known = tasks.get(task.id);
    tasks.set(task.id, task);
    if (msg.event === "assigned" && !known) {
      toast(t("New task: go to {point}.", { point: task.point_name }), "error", 10000);
      playAlarmSound({ repeats: 2 });
      if (navigator.vibrate) navigator.vibrate([300, 150, 300]);
    } else if (msg.event === "closed") {
      toast(t("Stand down: {point}. Thank you!", { point: task.point_name }), "ok");
    }
    renderTasks();
  }

  if (taskList) {
    api("/alarms/tasks/mine", { quiet: true }).then((list) => {
      for (const task of list) if (!tasks.has(task.id)) tasks.set(task.id, task);
      renderTasks();
    }).catch(() => renderTasks());
    setInterval(renderTasks, 30000); // keep "since ..." current
  }

  connect({
    hello: (msg) => {
      store.reset((msg.alarms || []).filter(followed));
      if (state.phase === "idle" || state.phase === "status") {
        if (!state.alarmId || !store.get(state.alarmId)) {
          const latest = store.open().sort((x, y) => y.id - x.id)[0];
          state.alarmId = latest ? latest.id : null;
          state.phase = latest ? "status" : "idle";
        }
        renderCard();
      }
      if (taskList) {
        for (const [id, task] of tasks) if (task.state !== "closed") tasks.delete(id);
        for (const task of msg.tasks || []) tasks.set(task.id, task);
        renderTasks();
      }
    },
    alarm: (msg) => { if (followed(msg.alarm)) applyAlarm(msg.alarm); },
    task: (msg) => applyTask(msg),
  });

  const pending = pendingPress();
  if (pending && pending.source === "app") send(null, pending);
}

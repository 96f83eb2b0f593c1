// One-click alarms, shared by the TV, the phone and the PC console (server side: docs/alarms.md).
//
// raise(): a press gets one sender-made UUID; the same body is re-sent until the server answers 2xx
//          (it commits before it answers, and a retry with the same UUID never makes a second alarm).
//          Until that answer the body is also kept in localStorage, so a reload or a power cut of the
//          set-top box resumes sending the same press.
// connect(): the alarms WebSocket (/api/v1/alarms/ws) with reconnect; every (re)connect starts with a
//          `hello` that carries the open alarms and tasks, so a client that was away is whole again.
// Plus the labels every terminal shows, and a short alarm sound made with WebAudio (no audio files).

import { t } from "./i18n.js";
import { wsUrl } from "./player.js";

const PENDING_KEY = "xl-alarm-pending";
const RETRY_MS = [500, 1000, 2000, 3000, 5000]; // then every 5 s, for as long as it takes

/** A random RFC 4122 v4 UUID; crypto.randomUUID needs a secure context, getRandomValues does not. */
export function newUuid() {
  if (window.crypto && crypto.randomUUID && window.isSecureContext) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A press that the server refused for good (403, 422...): retrying the same body cannot help. */
export class AlarmRefused extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

function loadPending() {
  try { return JSON.parse(localStorage.getItem(PENDING_KEY) || "null"); } catch { return null; }
}
function savePending(body) {
  try {
    if (body) localStorage.setItem(PENDING_KEY, JSON.stringify(body));
    else localStorage.removeItem(PENDING_KEY);
  } catch { /* storage off: the retry loop in memory still holds the press */ }
}

/** A press of this user that was never answered (the page was reloaded while sending), or null. */
export function pendingPress() {
  const body = loadPending();
  const me = (window.XL || {}).me;
  return body && me && body.user_id === me.id ? body : null;
}

/**
 * Sends one press: `fields` = {kind?, source, lat?, lon?, note?}; or `resume` = a pendingPress().
 * onAttempt({attempt, error}) is called before each retry. Resolves to the server's {alarm, created,
 * duplicate} after the first 2xx; rejects with AlarmRefused when the server says no for good.
 */
export async function raise(fields, { onAttempt, resume = null } = {}) {
  const me = (window.XL || {}).me || {};
  const stored = resume || {
    user_id: me.id, uuid: newUuid(), kind: "emergency", pressed_at: new Date().toISOString(), ...fields,
  };
  savePending(stored);
  const { user_id: _owner, ...body } = stored;
  const text = JSON.stringify(body); // the same bytes every time
  for (let attempt = 1; ; attempt += 1) {
    let error = "";
    try {
      const r = await fetch("/api/v1/alarms", {
        method: "POST", credentials: "same-origin", cache: "no-store",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": (window.XL || {}).csrf || "" },
        body: text,
      });
      if (r.ok) {
        const out = await r.json();
        savePending(null);
        return out;
      }
      let data = null;
      try { data = await r.json(); } catch { data = null; }
      const code = (data && data.code) || `http_${r.status}`;
      // 5xx, 408, 429: the server is busy or restarting: the same press again. 4xx: it will not change.
      if (r.status < 500 && r.status !== 408 && r.status !== 429) {
        savePending(null);
        throw new AlarmRefused(r.status, code, data && data.message);
      }
      error = code;
    } catch (err) {
      if (err instanceof AlarmRefused) throw err;
      error = "network";
    }
    if (onAttempt) onAttempt({ attempt: attempt + 1, error });
    await sleep(RETRY_MS[Math.min(attempt - 1, RETRY_MS.length - 1)]);
  }
}

/** What the sender's screen says for a refused press. */
export function refusedText(err) {
  if (err.code === "not_logged_in") return t("Your session has ended. Please log in again.");
  if (err.code === "forbidden") return t("Your account may not raise alarms. In an emergency, call 110.");
  return t("The alarm was not accepted: {detail}. In an emergency, call 110.", { detail: err.message });
}

/**
 * The alarms WebSocket. Handlers: hello(msg), alarm(msg), task(msg), resync(), online(bool).
 * Reconnects with backoff; pings every 25 s so idle proxies keep it. Returns {close()}.
 */
export function connect(handlers) {
  let ws = null;
  let closed = false;
  let retries = 0;
  let ping = 0;
  let timer = 0;
  const call = (name, ...args) => { if (handlers[name]) handlers[name](...args); };
  const mark = (up) => { document.documentElement.dataset.alarmFeed = up ? "up" : "down"; }; // for people and tests

  function open() {
    if (closed) return;
    ws = new WebSocket(wsUrl("/api/v1/alarms/ws"));
    ws.addEventListener("open", () => {
      retries = 0;
      clearInterval(ping);
      ping = setInterval(() => { if (ws.readyState === WebSocket.OPEN) ws.send('{"type":"ping"}'); }, 25000);
    });
    ws.addEventListener("message", (e) => {
      let msg;
      try { msg = JSON.parse(e.data); } catch { return; }
      if (msg.type === "hello") { call("hello", msg); call("online", true); mark(true); }
      else if (msg.type === "alarm") call("alarm", msg);
      else if (msg.type === "task") call("task", msg);
      else if (msg.type === "notice") call("notice", msg);
      else if (msg.type === "resync") call("resync");
    });
    ws.addEventListener("close", (e) => {
      clearInterval(ping);
      if (closed) return;
      call("online", false);
      mark(false);
      if (e.code === 1008) {
        // Not logged in (any more): one slow retry, then the page's own API calls send them to log in.
        retries = Math.max(retries, 4);
      }
      const delay = Math.min(500 * 2 ** retries, 10000) * (0.75 + Math.random() / 2);
      retries += 1;
      timer = setTimeout(open, delay);
    });
  }
  open();
  // Back from sleep or a network change: do not wait for the backoff.
  window.addEventListener("online", () => {
    if (!closed && ws && ws.readyState === WebSocket.CLOSED) { clearTimeout(timer); retries = 0; open(); }
  });
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      clearInterval(ping);
      if (ws) ws.close();
    },
  };
}

/** Whether the sender's screens follow `alarm`: staff (who hear every alarm of their area) follow only
 * the ones they raised themselves; residents their household's, volunteers their own (all they hear). */
export function followed(alarm) {
  const me = (window.XL || {}).me || {};
  return !(me.permissions || []).includes("handle_alarms") || alarm.raised_by === me.id;
}

/** Alarms by id, keeping only the newest copy of each (the server bumps `version` on every change). */
export class AlarmStore {
  constructor() { this.byId = new Map(); }

  /** Stores `alarm` unless an equal or newer version is known; returns true when it changed anything. */
  put(alarm) {
    const old = this.byId.get(alarm.id);
    if (old && old.version > alarm.version) return false;
    if (old && old.version === alarm.version && Object.keys(alarm).length <= Object.keys(old).length) return false;
    this.byId.set(alarm.id, old && old.version === alarm.version ? { ...old, ...alarm } : alarm);
    return true;
  }

  get(id) { return this.byId.get(id); }

  open() { return [...this.byId.values()].filter((a) => a.status !== "closed"); }

  /** Replaces the open set with the server's snapshot, keeping closed alarms we have seen. */
  reset(list) {
    for (const [id, a] of this.byId) if (a.status !== "closed") this.byId.delete(id);
    for (const a of list) this.put(a);
  }
}

// ----------------------------------------------------------------------------------------------- labels

export function stateLabel(state) {
  return {
    new: t("New"),
    acknowledged: t("Acknowledged"),
    dispatched: t("Dispatched"),
    on_scene: t("On scene"),
    resolved: t("Resolved"),
    false_alarm: t("False alarm"),
  }[state] || state;
}

export function alarmKindLabel(kind) {
  return {
    emergency: t("Emergency"),
    fire: t("Fire"),
    medical: t("Medical"),
    intrusion: t("Intrusion"),
    camera_offline: t("Camera offline"),
    link_down: t("Node link down"),
  }[kind] || kind;
}

export function sourceLabel(source) {
  return {
    tv: t("TV red key"), app: t("Phone"), pc: t("PC"), mqtt: t("Alarm button"), system: t("System"),
  }[source] || source;
}

/** What the sender sees: the status word of AlarmStatusOut. */
export function statusText(status) {
  return {
    received: t("Received by the police station"),
    in_progress: t("An operator is on it"),
    closed: t("The police station has closed this alarm"),
  }[status] || status;
}

export function eventLabel(action) {
  return {
    raised: t("Raised"),
    pressed: t("Pressed again"),
    escalated: t("Escalated"),
    acknowledged: t("Acknowledged"),
    dispatched: t("Dispatched"),
    on_scene: t("On scene"),
    resolved: t("Resolved"),
    false_alarm: t("Marked false alarm"),
    note: t("Note"),
    mobilized: t("Plan activated"),
    stood_down: t("Stood down"),
  }[action] || action;
}

/** "3 min ago" style age of an ISO time, coarse on purpose. */
export function ago(iso, now = Date.now()) {
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (s < 60) return t("{n} s ago", { n: s });
  if (s < 3600) return t("{n} min ago", { n: Math.floor(s / 60) });
  return t("{n} h ago", { n: Math.floor(s / 3600) });
}

/** A duration in seconds as "45 s" / "3 min 20 s" / "2 h 5 min". */
export function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return t("{n} s", { n: s });
  if (s < 3600) return t("{m} min {s} s", { m: Math.floor(s / 60), s: s % 60 });
  return t("{h} h {m} min", { h: Math.floor(s / 3600), m: Math.floor((s % 3600) / 60) });
}

// ------------------------------------------------------------------------------------------------ sound

let audio = null;

function audioContext() {
  const AC = window.AudioContext || window.webkitAudioContext;
  if (!AC) return null;
  if (!audio) audio = new AC();
  return audio;
}

/** Browsers start audio only after a user gesture: call once at start-up; the first click or key unlocks. */
export function unlockSoundOnGesture() {
  const unlock = () => {
    const ctx = audioContext();
    if (ctx && ctx.state === "suspended") ctx.resume().catch(() => { /* still locked */ });
  };
  for (const type of ["pointerdown", "keydown", "touchstart"]) window.addEventListener(type, unlock, { passive: true });
}

/** Whether the alarm sound can play now (false until the page had a click or key press). */
export function soundReady() {
  const ctx = audioContext();
  return Boolean(ctx) && ctx.state === "running";
}

/** A short two-tone alert (about 1.3 s): made here, so no audio file is needed offline. */
export function playAlarmSound({ repeats = 3 } = {}) {
  const ctx = audioContext();
  if (!ctx) return false;
  if (ctx.state === "suspended") ctx.resume().catch(() => { /* locked until a gesture */ });
  const start = ctx.currentTime + 0.02;
  const gain = ctx.createGain();
  gain.connect(ctx.destination);
  gain.gain.setValueAtTime(0.0001, start);
  for (let i = 0; i < repeats * 2; i += 1) {
    const t0 = start + i * 0.22;
    const osc = ctx.createOscillator();
    osc.type = "square";
    osc.frequency.setValueAtTime(i % 2 ? 660 : 880, t0);
    osc.connect(gain);
    gain.gain.setValueAtTime(0.0001, t0);
    gain.gain.exponentialRampToValueAtTime(0.18, t0 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.2);
    osc.start(t0);
    osc.stop(t0 + 0.21);
  }
  return ctx.state === "running";
}

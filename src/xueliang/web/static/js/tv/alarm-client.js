// The TV's copy of what it needs from alarm-client.js (ES2015, no async/await): raise() re-sends one
// press with one UUID until the server answers 2xx (kept in localStorage across a reload or power cut),
// connect() is the alarms WebSocket with reconnect, AlarmStore keeps the newest copy of each alarm.
// The server side and the rules are in docs/alarms.md; keep this in step with alarm-client.js.
(function () {
  "use strict";

  var TV = window.XLTV = window.XLTV || {};
  var t = TV.t;
  var PENDING_KEY = "xl-alarm-pending";
  var RETRY_MS = [500, 1000, 2000, 3000, 5000];

  function pad2(x) { var s = x.toString(16); return s.length < 2 ? "0" + s : s; }

  /** A random RFC 4122 v4 UUID from getRandomValues (crypto.randomUUID needs a secure context). */
  function newUuid() {
    var b = new Uint8Array(16);
    if (window.crypto && window.crypto.getRandomValues) window.crypto.getRandomValues(b);
    else for (var i = 0; i < 16; i += 1) b[i] = Math.floor(Math.random() * 256);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(b, pad2).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  /** A press that the server refused for good (403, 422...): retrying the same body cannot help. */
  function AlarmRefused(status, code, message) {
    this.name = "AlarmRefused";
    this.status = status;
    this.code = code;
    this.message = message || code;
  }

  function loadPending() {
    try { return JSON.parse(localStorage.getItem(PENDING_KEY) || "null"); } catch (e) { return null; }
  }
  function savePending(body) {
    try {
      if (body) localStorage.setItem(PENDING_KEY, JSON.stringify(body));
      else localStorage.removeItem(PENDING_KEY);
    } catch (e) { /* storage off: the retry loop in memory still holds the press */ }
  }

  function pendingPress() {
    var body = loadPending();
    var me = (window.XL || {}).me;
    return body && me && body.user_id === me.id ? body : null;
  }

  /** Sends one press (`fields` or a `resume`d pendingPress()); resolves to {alarm, ...} after the first 2xx. */
  function raise(fields, opts) {
    var o = opts || {};
    var me = (window.XL || {}).me || {};
    var stored = o.resume;
    if (!stored) {
      stored = { user_id: me.id, uuid: newUuid(), kind: "emergency", pressed_at: new Date().toISOString() };
      Object.keys(fields || {}).forEach(function (k) { stored[k] = fields[k]; });
    }
    savePending(stored);
    var body = {};
    Object.keys(stored).forEach(function (k) { if (k !== "user_id") body[k] = stored[k]; });
    var text = JSON.stringify(body); // the same bytes every time

    function attempt(n) {
      return fetch("/api/v1/alarms", {
        method: "POST", credentials: "same-origin", cache: "no-store",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": (window.XL || {}).csrf || "" },
        body: text,
      }).then(function (r) {
        if (r.ok) return r.json().then(function (out) { savePending(null); return out; });
        return r.json().catch(function () { return null; }).then(function (data) {
          var code = (data && data.code) || "http_" + r.status;
          if (r.status < 500 && r.status !== 408 && r.status !== 429) {
            savePending(null);
            throw new AlarmRefused(r.status, code, data && data.message);
          }
          return retry(n, code);
        });
      }, function () { return retry(n, "network"); });
    }
    function retry(n, error) {
      if (o.onAttempt) o.onAttempt({ attempt: n + 1, error: error });
      return new Promise(function (resolve) { setTimeout(resolve, RETRY_MS[Math.min(n - 1, RETRY_MS.length - 1)]); })
        .then(function () { return attempt(n + 1); });
    }
    return attempt(1);
  }

  function refusedText(err) {
    if (err.code === "not_logged_in") return t("Your session has ended. Please log in again.");
    if (err.code === "forbidden") return t("Your account may not raise alarms. In an emergency, call 110.");
    return t("The alarm was not accepted: {detail}. In an emergency, call 110.", { detail: err.message });
  }

  /** The alarms WebSocket with reconnect and a ping every 25 s. Handlers: hello(msg), alarm(msg). */
  function connect(handlers) {
    var ws = null;
    var closed = false;
    var retries = 0;
    var ping = 0;
    var timer = 0;
    function call(name, arg) { if (handlers[name]) handlers[name](arg); }
    function mark(up) { document.documentElement.setAttribute("data-alarm-feed", up ? "up" : "down"); }

    function open() {
      if (closed) return;
      ws = new WebSocket(TV.wsUrl("/api/v1/alarms/ws"));
      ws.addEventListener("open", function () {
        retries = 0;
        clearInterval(ping);
        ping = setInterval(function () { if (ws.readyState === WebSocket.OPEN) ws.send('{"type":"ping"}'); }, 25000);
      });
      ws.addEventListener("message", function (e) {
        var msg;
        try { msg = JSON.parse(e.data); } catch (err) { return; }
        if (msg.type === "hello") { call("hello", msg); mark(true); }
        else if (msg.type === "alarm") call("alarm", msg);
      });
      ws.addEventListener("close", function (e) {
        clearInterval(ping);
        if (closed) return;
        mark(false);
        if (e.code === 1008) retries = Math.max(retries, 4);
        var delay = Math.min(500 * Math.pow(2, retries), 10000) * (0.75 + Math.random() / 2);
        retries += 1;
        timer = setTimeout(open, delay);
      });
    }
    open();
    window.addEventListener("online", function () {
      if (!closed && ws && ws.readyState === WebSocket.CLOSED) { clearTimeout(timer); retries = 0; open(); }
    });
    return { close: function () { closed = true; clearTimeout(timer); clearInterval(ping); if (ws) ws.close(); } };
  }

  /** Staff follow only the alarms they raised; residents their household's. */
  function followed(alarm) {
    var me = (window.XL || {}).me || {};
    return (me.permissions || []).indexOf("handle_alarms") < 0 || alarm.raised_by === me.id;
  }

  /** Alarms by id, keeping only the newest copy of each (the server bumps `version` on every change). */
  function AlarmStore() { this.byId = {}; }
  AlarmStore.prototype.put = function (alarm) {
    var old = this.byId[alarm.id];
    if (old && old.version > alarm.version) return false;
    if (old && old.version === alarm.version && Object.keys(alarm).length <= Object.keys(old).length) return false;
    var merged = alarm;
    if (old && old.version === alarm.version) {
      merged = {};
      Object.keys(old).forEach(function (k) { merged[k] = old[k]; });
      Object.keys(alarm).forEach(function (k) { merged[k] = alarm[k]; });
    }
    this.byId[alarm.id] = merged;
    return true;
  };
  AlarmStore.prototype.get = function (id) { return this.byId[id]; };
  AlarmStore.prototype.open = function () {
    var self = this;
    return Object.keys(this.byId).map(function (k) { return self.byId[k]; }).filter(function (a) { return a.status !== "closed"; });
  };
  AlarmStore.prototype.reset = function (list) {
    var self = this;
    Object.keys(this.byId).forEach(function (k) { if (self.byId[k].status !== "closed") delete self.byId[k]; });
    list.forEach(function (a) { self.put(a); });
  };

  function statusText(status) {
    return {
      received: t("Received by the police station"),
      in_progress: t("An operator is on it"),
      closed: t("The police station has closed this alarm"),
    }[status] || status;
  }

  TV.alarms = { AlarmRefused: AlarmRefused, AlarmStore: AlarmStore, connect: connect, followed: followed,
    pendingPress: pendingPress, raise: raise, refusedText: refusedText, statusText: statusText };
}());

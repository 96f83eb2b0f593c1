// Live video in a tile: fMP4 over WebSocket into Media Source Extensions, HLS as the fallback.
//
// Wire protocol (all of it in handleMessage below, so it can be adjusted in one place; the server side
// is documented in xueliang/media/live/ws.py):
//   text   {"type":"init","mime":"video/mp4; codecs=\"avc1.64001f\"",...}  the next binary message is an
//          init segment; a later header means a new init segment follows: the MediaSource and its
//          SourceBuffer are re-created (robust whatever the new segment's timestamps are)
//   binary the init segment, then one moof+mdat fragment per message
//   text   {"type":"gap"}                         frames were dropped: jump to the newest buffered range
//          {"type":"status","online":bool}        the camera went offline / came back
//          {"type":"token_expiring"}              answer {"type":"token","token":...} with a fresh token
//          {"type":"error","message":...} / {"type":"eos"}
//   close codes 4401 (token), 4403 (not allowed), 4404 (unknown camera), 4408 (too slow), 1001 (gone)
// The buffer is kept short and playback jumps to the live edge when it falls more than 1 s behind.
// Sound: an init header with "audio":true means the camera's sound is on. It comes over its own socket
// (the same URL with /audio/ws, the same messages, an AAC track) into a muted <audio> element of its
// own, kept on the picture's time; the viewer unmutes it with the sound button (browsers refuse
// autoplay with sound). A separate element so that sound that stalls or fails never holds the picture.

import { h } from "./dom.js";
import { t } from "./i18n.js";

const MS = window.ManagedMediaSource || window.MediaSource;
const LIVE_LAG_S = 1.0;
const KEEP_BEHIND_S = 6;
const TRIM_AT_S = 12;

/** Absolute ws:// or wss:// URL for a path the server gave us. */
export function wsUrl(path) {
  const url = new URL(path, location.href);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  return url.href;
}

/** Applies one WebSocket message to the player state; `sink` receives what the player must act on. */
export function handleMessage(state, data, sink) {
  if (typeof data !== "string") {
    if (!state.mime) return; // binary before any header: nothing to decode it with
    if (state.awaitingInit) {
      state.awaitingInit = false;
      sink.init(state.mime, data);
    } else {
      sink.fragment(data);
    }
    return;
  }
  let msg;
  try { msg = JSON.parse(data); } catch { return; }
  switch (msg.type) {
    case "init":
      state.mime = msg.mime; state.awaitingInit = true;
      if (msg.audio && sink.audio) sink.audio();
      break;
    case "gap": sink.gap(); break;
    case "status": sink.status(Boolean(msg.online), msg.reason || ""); break;
    case "token_expiring": sink.tokenExpiring(); break;
    case "error": sink.error(msg.message || ""); break;
    case "eos": sink.ended(); break;
    default: break; // token_ok and anything newer: nothing to do
  }
}

/** Media Source pipeline for one <video>: an append queue, trimming, and live-edge chasing. */
class MsePipe {
  constructor(video, onError) {
    this.video = video;
    this.onError = onError;
    this.queue = [];
    this.ms = null;
    this.sb = null;
    this.url = "";
  }

  /** A new init segment: fresh MediaSource and SourceBuffer for `mime`. */
  reset(mime) {
    this.dispose();
    if (!MS.isTypeSupported(mime)) {
      this.onError(t("This browser cannot decode this video format."));
      return;
    }
    const ms = new MS();
    this.ms = ms;
    this.queue = [];
    this.url = URL.createObjectURL(ms);
    this.video.disableRemotePlayback = true; // required by ManagedMediaSource, harmless elsewhere
    this.video.src = this.url;
    ms.addEventListener("sourceopen", () => {
      if (this.ms !== ms) return;
      try {
        this.sb = ms.addSourceBuffer(mime);
        this.sb.mode = "segments";
        this.sb.addEventListener("updateend", () => this.pump());
        this.sb.addEventListener("error", () => this.onError(t("The video stream could not be decoded.")));
      } catch (err) {
        this.onError(t("The video stream could not be decoded."));
        return;
      }
      this.pump();
    }, { once: true });
  }

  append(data) {
    this.queue.push(data);
    this.pump();
  }

  pump() {
    const sb = this.sb;
    if (!sb || sb.updating || !this.ms || this.ms.readyState !== "open") return;
    const v = this.video;
    const b = v.buffered;
    if (b.length && v.currentTime - b.start(0) > TRIM_AT_S) {
      sb.remove(b.start(0), v.currentTime - KEEP_BEHIND_S); // 'updateend' pumps again
      return;
    }
    if (this.queue.length) {
      try {
        sb.appendBuffer(this.queue.shift());
      } catch (err) {
        if (err.name === "QuotaExceededError" && b.length) sb.remove(b.start(0), Math.max(b.start(0) + 0.1, v.currentTime - 1));
        else this.onError(t("The video stream could not be decoded."));
      }
      return;
    }
    this.chase();
  }

  /** Stay at the live edge: jump forward when more than LIVE_LAG_S behind, and keep playing. */
  chase() {
    const v = this.video;
    const b = v.buffered;
    if (!b.length) return;
    const end = b.end(b.length - 1);
    const start = b.start(b.length - 1);
    if (end - v.currentTime > LIVE_LAG_S || v.currentTime < start) v.currentTime = Math.max(start, end - 0.25);
    if (v.paused) v.play().catch(() => { /* autoplay refused: muted video normally may play */ });
  }

  dispose() {
    this.sb = null;
    if (this.ms && this.ms.readyState === "open") {
      try { this.ms.endOfStream(); } catch { /* already ended */ }
    }
    this.ms = null;
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = "";
  }
}

const SYNC_S = 0.3; // the sound is moved to the picture's time when further apart than this

/** The camera's sound beside a playing <video>: its own socket, MediaSource and muted <audio>. */
class Sound {
  constructor(root, path, video, reopen) {
    this.video = video;
    this.audio = h("audio", { muted: true, autoplay: true });
    this.audio.muted = true;
    this.button = h("button", {
      class: "btn btn-sm player-sound", type: "button", "aria-pressed": "false",
      onclick: () => this.toggle(),
    }, t("Turn sound on"));
    root.append(this.audio, this.button);
    this.pipe = new MsePipe(this.audio, () => this.stop());
    const url = new URL(path, location.href);
    url.pathname = url.pathname.replace(/\/ws$/, "/audio/ws");
    const state = { mime: null, awaitingInit: false };
    const sink = {
      init: (mime, data) => { this.pipe.reset(mime); this.pipe.append(data); },
      fragment: (data) => this.pipe.append(data),
      gap: () => {}, status: () => {},
      tokenExpiring: async () => {
        if (!reopen) return;
        try {
          const token = tokenOf((await reopen() || {}).ws);
          if (token && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: "token", token }));
        } catch { /* the server closes the sound with 4401; the picture has its own socket */ }
      },
      error: () => this.stop(), ended: () => this.stop(),
    };
    this.ws = new WebSocket(wsUrl(url.href));
    this.ws.binaryType = "arraybuffer";
    this.ws.addEventListener("message", (e) => handleMessage(state, e.data, sink));
    this.ws.addEventListener("close", () => { this.button.hidden = true; });
    this.timer = setInterval(() => this.sync(), 500);
  }

  toggle() {
    const a = this.audio;
    a.muted = !a.muted;
    this.button.textContent = a.muted ? t("Turn sound on") : t("Mute");
    this.button.setAttribute("aria-pressed", String(!a.muted));
    if (a.paused) a.play().catch(() => { /* no sound yet */ });
  }

  /** Keep the sound on the picture's time (both clocks start with the camera's stream). */
  sync() {
    const v = this.video, a = this.audio, b = a.buffered;
    const at = v.currentTime;
    for (let i = 0; i < b.length; i++) {
      if (at >= b.start(i) && at <= b.end(i)) {
        if (Math.abs(a.currentTime - at) > SYNC_S) a.currentTime = at;
        break;
      }
    }
  }

  stop() {
    clearInterval(this.timer);
    this.button.hidden = true;
    if (this.ws.readyState <= WebSocket.OPEN) this.ws.close();
    this.pipe.dispose();
    this.audio.removeAttribute("src");
  }
}

/** The token in a stream URL the server gave us. */
function tokenOf(url) {
  try { return new URL(url, location.href).searchParams.get("token") || ""; } catch { return ""; }
}

/**
 * Plays `streams` (from POST /cameras/{id}/open) inside `host`.
 * Options: reopen() -> Promise of fresh `streams` (the player takes a new token from it when the server
 * says the current one is expiring); onRetry() -> the "Try again" button. Returns {video, close()}.
 */
export function createPlayer(host, streams, { onRetry, reopen } = {}) {
  const video = h("video", { muted: true, autoplay: true, playsinline: true, "aria-label": t("Live video") });
  video.muted = true; // the property, not just the attribute, decides autoplay
  const live = h("span", { class: "player-live", hidden: true }, t("LIVE"));
  const msg = h("div", { class: "player-msg" });
  const root = h("div", { class: "player" }, video, live, msg);
  host.replaceChildren(root);

  let ws = null;
  let pipe = null;
  let sound = null;
  let closed = false;

  function message(title, detail = "", retry = false) {
    msg.hidden = false;
    live.hidden = true;
    const parts = [h("strong", {}, title)];
    if (detail) parts.push(h("small", {}, detail));
    if (retry && onRetry) parts.push(h("button", { class: "btn btn-sm", type: "button", onclick: () => onRetry() }, t("Try again")));
    msg.replaceChildren(...parts);
  }
  function playing() { msg.hidden = true; live.hidden = false; }
  video.addEventListener("playing", playing);

  function closedBy(code, gotData) {
    switch (code) {
      case 4401: return message(t("Live video stopped"), t("The viewing permission has expired."), true);
      case 4403: return message(t("Live video stopped"), t("You may no longer watch this camera."));
      case 4404: return message(t("Live video not available"), t("This camera is not available for live viewing."));
      case 4408: return message(t("Live video stopped"), t("The network is too slow for this stream."), true);
      case 1001: return message(t("Live video stopped"), t("The camera was removed or the server is restarting."), true);
      default: return gotData
        ? message(t("Live video stopped"), t("The connection to the video server was closed."), true)
        : message(t("Live video not available"), t("Cannot connect to the video stream."), true);
    }
  }

  const s = streams || {};
  if (s.ws && MS) {
    message(t("Connecting…"));
    pipe = new MsePipe(video, (text) => message(t("Live video stopped"), text, true));
    const state = { mime: null, awaitingInit: false };
    let gotData = false;
    const sink = {
      init: (mime, data) => { gotData = true; pipe.reset(mime); pipe.append(data); },
      fragment: (data) => { gotData = true; pipe.append(data); },
      gap: () => pipe.chase(),
      status: (online) => {
        if (!online) message(t("The camera is offline"), t("The picture comes back by itself when it reconnects."));
        else if (!video.paused) playing();
      },
      tokenExpiring: async () => {
        if (!reopen) return;
        try {
          const fresh = await reopen();
          const token = tokenOf(fresh && fresh.ws);
          if (token && ws && ws.readyState === WebSocket.OPEN) {
            ws.send(JSON.stringify({ type: "token", token }));
            root.dataset.tokenRefreshes = String(Number(root.dataset.tokenRefreshes || 0) + 1);
          }
        } catch { /* the server closes with 4401 and the viewer can try again */ }
      },
      error: (text) => message(t("Live video stopped"), text, true),
      ended: () => message(t("The stream has ended"), "", true),
      audio: () => { if (!sound && !closed) sound = new Sound(root, s.ws, video, reopen); },
    };
    ws = new WebSocket(wsUrl(s.ws));
    ws.binaryType = "arraybuffer";
    ws.addEventListener("message", (e) => handleMessage(state, e.data, sink));
    ws.addEventListener("close", (e) => { if (!closed) closedBy(e.code, gotData); });
    video.addEventListener("waiting", () => pipe && pipe.chase());
  } else if (s.hls) {
    message(t("Connecting…"));
    video.src = new URL(s.hls, location.href).href;
    video.play().catch(() => { /* muted autoplay normally allowed */ });
    video.addEventListener("error", () => message(t("Live video not available"), t("This device cannot play this stream."), true));
  } else if (s.ws) {
    message(t("Live video not available"), t("This browser cannot play live video."));
  } else {
    message(t("Live video not available"), t("The video service is not running for this camera yet."));
  }

  return {
    video,
    sound: () => sound && sound.audio,
    close() {
      closed = true;
      if (sound) sound.stop();
      if (ws) ws.close();
      if (pipe) pipe.dispose();
      video.removeAttribute("src");
      video.load();
      root.remove();
    },
  };
}

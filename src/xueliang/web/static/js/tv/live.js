// Live video on the TV: the ES2015 copy of player.js + live.js (fMP4 over WebSocket into Media Source
// Extensions, HLS as the fallback, which is what most set-top boxes play natively). The wire protocol is
// the one documented in player.js and xueliang/media/live/ws.py; keep the two in step.
(function () {
  "use strict";

  var TV = window.XLTV = window.XLTV || {};
  var h = TV.h;
  var fill = TV.fill;
  var t = TV.t;

  var MS = window.ManagedMediaSource || window.MediaSource || window.WebKitMediaSource;
  var LIVE_LAG_S = 1.0;
  var KEEP_BEHIND_S = 6;
  var TRIM_AT_S = 12;

  /** Absolute ws:// or wss:// URL for a path the server gave us. */
  function wsUrl(path) {
    var a = document.createElement("a");
    a.href = path;
    return a.href.replace(/^http/, "ws");
  }

  function tokenOf(url) {
    var m = /[?&]token=([^&]*)/.exec(url || "");
    return m ? decodeURIComponent(m[1]) : "";
  }

  /** Media Source pipeline for one <video>: an append queue, trimming, and live-edge chasing. */
  function MsePipe(video, onError) {
    this.video = video;
    this.onError = onError;
    this.queue = [];
    this.ms = null;
    this.sb = null;
    this.url = "";
  }

  MsePipe.prototype.reset = function (mime) {
    var self = this;
    this.dispose();
    if (!MS.isTypeSupported(mime)) { this.onError(t("This browser cannot decode this video format.")); return; }
    var ms = new MS();
    this.ms = ms;
    this.queue = [];
    this.url = URL.createObjectURL(ms);
    this.video.disableRemotePlayback = true;
    this.video.src = this.url;
    function opened() {
      ms.removeEventListener("sourceopen", opened);
      if (self.ms !== ms) return;
      try {
        self.sb = ms.addSourceBuffer(mime);
        self.sb.mode = "segments";
        self.sb.addEventListener("updateend", function () { self.pump(); });
        self.sb.addEventListener("error", function () { self.onError(t("The video stream could not be decoded.")); });
      } catch (err) {
        self.onError(t("The video stream could not be decoded."));
        return;
      }
      self.pump();
    }
    ms.addEventListener("sourceopen", opened);
  };

  MsePipe.prototype.push = function (data) { this.queue.push(data); this.pump(); };

  MsePipe.prototype.pump = function () {
    var sb = this.sb;
    if (!sb || sb.updating || !this.ms || this.ms.readyState !== "open") return;
    var v = this.video;
    var b = v.buffered;
    if (b.length && v.currentTime - b.start(0) > TRIM_AT_S) { sb.remove(b.start(0), v.currentTime - KEEP_BEHIND_S); return; }
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
  };

  MsePipe.prototype.chase = function () {
    var v = this.video;
    var b = v.buffered;
    if (!b.length) return;
    var end = b.end(b.length - 1);
    var start = b.start(b.length - 1);
    if (end - v.currentTime > LIVE_LAG_S || v.currentTime < start) v.currentTime = Math.max(start, end - 0.25);
    if (v.paused) {
      var p = v.play();
      if (p && p.catch) p.catch(function () { return null; });
    }
  };

  MsePipe.prototype.dispose = function () {
    this.sb = null;
    if (this.ms && this.ms.readyState === "open") {
      try { this.ms.endOfStream(); } catch (e) { /* already ended */ }
    }
    this.ms = null;
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = "";
  };

  /** Plays `streams` (from POST /cameras/{id}/open) inside `host`; returns {video, close()}. */
  function createPlayer(host, streams, opts) {
    var o = opts || {};
    var video = h("video", { muted: true, autoplay: true, playsinline: true, "aria-label": t("Live video") });
    video.muted = true;
    var live = h("span", { class: "player-live", hidden: true }, t("LIVE"));
    var msg = h("div", { class: "player-msg" });
    var root = h("div", { class: "player" }, video, live, msg);
    fill(host, root);
    var ws = null;
    var pipe = null;
    var closed = false;

    function message(title, detail, retry) {
      msg.hidden = false;
      live.hidden = true;
      fill(msg, h("strong", {}, title), detail ? h("small", {}, detail) : null,
        retry && o.onRetry ? h("button", { class: "btn btn-sm", type: "button", onclick: function () { o.onRetry(); } }, t("Try again")) : null);
    }
    function playing() { msg.hidden = true; live.hidden = false; }
    video.addEventListener("playing", playing);

    function closedBy(code, gotData) {
      if (code === 4401) return message(t("Live video stopped"), t("The viewing permission has expired."), true);
      if (code === 4403) return message(t("Live video stopped"), t("You may no longer watch this camera."));
      if (code === 4404) return message(t("Live video not available"), t("This camera is not available for live viewing."));
      if (code === 4408) return message(t("Live video stopped"), t("The network is too slow for this stream."), true);
      if (code === 1001) return message(t("Live video stopped"), t("The camera was removed or the server is restarting."), true);
      return gotData
        ? message(t("Live video stopped"), t("The connection to the video server was closed."), true)
        : message(t("Live video not available"), t("Cannot connect to the video stream."), true);
    }

    var s = streams || {};
    if (s.ws && MS) {
      message(t("Connecting…"));
      pipe = new MsePipe(video, function (text) { message(t("Live video stopped"), text, true); });
      var state = { mime: null, awaitingInit: false };
      var gotData = false;
      ws = new WebSocket(wsUrl(s.ws));
      ws.binaryType = "arraybuffer";
      ws.addEventListener("message", function (e) {
        var data = e.data;
        if (typeof data !== "string") {
          if (!state.mime) return;
          gotData = true;
          if (state.awaitingInit) { state.awaitingInit = false; pipe.reset(state.mime); }
          pipe.push(data);
          return;
        }
        var m;
        try { m = JSON.parse(data); } catch (err) { return; }
        if (m.type === "init") { state.mime = m.mime; state.awaitingInit = true; }
        else if (m.type === "gap") pipe.chase();
        else if (m.type === "status") {
          if (!m.online) message(t("The camera is offline"), t("The picture comes back by itself when it reconnects."));
          else if (!video.paused) playing();
        } else if (m.type === "token_expiring" && o.reopen) {
          o.reopen().then(function (fresh) {
            var token = tokenOf(fresh && fresh.ws);
            if (token && ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "token", token: token }));
          }, function () { return null; });
        } else if (m.type === "error") message(t("Live video stopped"), m.message || "", true);
        else if (m.type === "eos") message(t("The stream has ended"), "", true);
      });
      ws.addEventListener("close", function (e) { if (!closed) closedBy(e.code, gotData); });
      video.addEventListener("waiting", function () { if (pipe) pipe.chase(); });
    } else if (s.hls) {
      message(t("Connecting…"));
      video.src = s.hls;
      var p = video.play();
      if (p && p.catch) p.catch(function () { return null; });
      video.addEventListener("error", function () { message(t("Live video not available"), t("This device cannot play this stream."), true); });
    } else if (s.ws) {
      message(t("Live video not available"), t("This browser cannot play live video."));
    } else {
      message(t("Live video not available"), t("The video service is not running for this camera yet."));
    }

    return {
      video: video,
      close: function () {
        closed = true;
        if (ws) ws.close();
        if (pipe) pipe.dispose();
        video.removeAttribute("src");
        video.load();
        if (root.parentNode) root.parentNode.removeChild(root);
      },
    };
  }

  /**
   * Opens camera `cameraId` live in `host` (POST /cameras/{id}/open grants short-lived, audited stream
   * URLs). current() false drops a late answer. Resolves to the player, or null when refused or dropped.
   */
  function openLive(cameraId, opts) {
    var o = opts || {};
    var current = o.current || function () { return true; };
    if (o.host) fill(o.host, h("div", { class: "player-msg" }, h("strong", {}, t("Connecting…"))));
    return TV.api("/cameras/" + cameraId + "/open", { method: "POST" }).then(function (out) {
      if (!current()) return null;
      return createPlayer(o.host, out.streams, {
        onRetry: o.onRetry,
        reopen: function () {
          return TV.api("/cameras/" + cameraId + "/open", { method: "POST", quiet: true }).then(function (x) { return x.streams; });
        },
      });
    }, function () { return null; });
  }

  TV.wsUrl = wsUrl;
  TV.openLive = openLive;
}());

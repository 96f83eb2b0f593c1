// TV set-top box: remote control only (arrows, OK, Back, digits, the colour keys). The last script of
// the page (tv.html loads tv/base.js, tv/keys.js, tv/spatial-nav.js, ... first): it builds the screens,
// hands every key to the navigator, and keeps the red key the alarm on every screen.
//
// Screens: home (tiles) -> cameras (cards) -> full-screen live view (◀ ▶ switch camera, Back returns),
// and the portal's screens (tv/portal.js, tv/booking.js). Focus moves by geometry (tv/spatial-nav.js);
// Back returns to the previous screen with focus and scroll restored, and does nothing on home.
(function () {
  "use strict";

  var TV = window.XLTV;
  var $ = TV.$;
  var $$ = TV.$$;
  var h = TV.h;
  var fill = TV.fill;
  var t = TV.t;

  TV.wireCommon();
  TV.keys.claimKeys();

  var nav = TV.createNav({ chrome: [$(".tv-top")] });
  TV.nav = nav;
  var state = { cameras: [], index: 0, player: null, openSeq: 0 };
  var modal = $("#tv-modal");

  nav.onShow(function (name) {
    var full = name === "view";
    $("#tv-hints").hidden = full;
    $(".tv-top").hidden = full;
  });

  /** A short message box (one OK button); the focus stays in it until OK or Back. */
  function openModal(title, text) {
    $("#modal-title").textContent = title;
    $("#modal-text").textContent = text;
    nav.openDialog(modal);
  }
  $("#modal-ok").addEventListener("click", function () { nav.closeDialog(modal); });
  TV.openModal = openModal;

  var alarm = TV.createTvAlarm({
    tile: $(".tv-tile.tile-alarm"),
    restoreFocus: function (el) {
      if (nav.dialogOpen()) { var inDialog = nav.items()[0]; if (inDialog) inDialog.focus(); return; }
      if (nav.current() === "view") { $("#screen-view").focus(); return; }
      if (el && document.documentElement.contains(el) && !el.closest("[hidden]")) nav.focus(el);
      else nav.move("down");
    },
  });

  // ------------------------------------------------------------------------------------------- screens

  nav.register("home", {
    el: $("#screen-home"),
    first: function () { return $("#tile-cameras"); },
    key: function (key) {
      if (/^[0-9]$/.test(key) && TV.startSearch) { TV.startSearch(key); return true; }
      if (key === "back") return true; // Back on home does nothing
      return false;
    },
  });

  nav.register("cameras", {
    el: $("#screen-list"),
    first: function () { return $(".tv-card", $("#screen-list")); },
  });

  var overlayTimer = 0;
  function flashOverlay() {
    var overlay = $("#tv-overlay");
    overlay.classList.add("on");
    clearTimeout(overlayTimer);
    overlayTimer = setTimeout(function () { overlay.classList.remove("on"); }, 5000);
  }

  function play(index) {
    var n = state.cameras.length;
    if (!n) return;
    state.index = ((index % n) + n) % n;
    var cam = state.cameras[state.index];
    var view = $("#screen-view");
    $("#view-name").textContent = TV.localName(cam);
    $("#view-pos").textContent = (state.index + 1) + " / " + n;
    view.setAttribute("data-camera-id", cam.id);
    view.focus();
    flashOverlay();
    if (state.player) state.player.close();
    state.player = null;
    state.openSeq += 1;
    var seq = state.openSeq;
    TV.openLive(cam.id, {
      host: $("#tv-player"),
      current: function () { return seq === state.openSeq && nav.current() === "view"; },
      onRetry: function () { play(state.index); },
    }).then(function (player) { if (player) state.player = player; });
  }

  nav.register("view", {
    el: $("#screen-view"),
    fullscreen: true,
    enter: function (params) { play(params.index); },
    leave: function () {
      state.openSeq += 1;
      if (state.player) state.player.close();
      state.player = null;
      fill($("#tv-player"));
      // Back lands on the card of the camera last shown (◀ ▶ may have moved on from the one opened).
      var card = $('.tv-card[data-index="' + state.index + '"]', $("#screen-list"));
      if (card) $("#screen-list").navReturn = card;
    },
    first: function () { return $("#screen-view"); },
    key: function (key) {
      if (key === "left") play(state.index - 1);
      else if (key === "right") play(state.index + 1);
      else if (key === "back") {
        nav.back();
        var card = $("#screen-list").navReturn;
        if (card) nav.focus(card);
      } else if (key === "ok" && $("#tv-player .player-msg:not([hidden]) .btn")) play(state.index); // try again
      else if (key === "yellow" && state.cameras.length) {
        location.assign("/tv/privacy/" + state.cameras[state.index].id); // what this camera films, and why
      } else flashOverlay();
      return true;
    },
  });

  /** What the home tiles open; the portal scripts add theirs to TV.tiles. */
  TV.tiles = TV.tiles || {};
  TV.tiles.cameras = function () { nav.go("cameras"); };
  TV.tiles.alarm = function () { alarm.press("tile"); };

  $$(".tv-tile[data-go]").forEach(function (tile) {
    tile.addEventListener("click", function (e) {
      e.preventDefault();
      var open = TV.tiles[tile.getAttribute("data-go")];
      if (open) open();
      else openModal(tile.querySelector(".tile-title").textContent, t("This service is not available yet."));
    });
  });

  /** Keys in a text field (the booking form): digits, letters, ◀ ▶ and Backspace edit; ▲ ▼ and OK move on. */
  function fieldKey(e, key, input) {
    if (key === "up" || key === "down" || key === "ok") { e.preventDefault(); nav.move(key === "up" ? "up" : "down"); return true; }
    if (key === "yellow" && input.getAttribute("inputmode") === "numeric") { e.preventDefault(); input.value += "X"; return true; }
    if (key === "back" && e.keyCode === 8 && input.value) return true; // deletes a character
    return key !== "back" && key !== "red";
  }

  document.addEventListener("keydown", function (e) {
    var key = TV.keys.remoteKey(e);
    if (!key) return;
    var active = document.activeElement;
    if (active && active.tagName === "INPUT" && fieldKey(e, key, active)) return;
    e.preventDefault(); // no page scrolling, no history navigation, no native button activation
    if (alarm.handleKey(key, e.repeat)) return; // the red key anywhere; every key while the alarm is up
    if (TV.urgentKey && TV.urgentKey(key)) return; // an urgent notice covers the screen until OK
    if ((key === "blue" || key === "home") && !nav.dialogOpen()) { nav.backTo("home"); return; } // home from anywhere
    nav.handle(key);
  });

  // ---------------------------------------------------------------------------------------------- data

  function tick() {
    $("#tv-time").textContent = TV.formatClock();
    $("#tv-date").textContent = TV.formatDate();
  }
  tick();
  setInterval(tick, 15000);

  function card(cam, index) {
    return h("button", { type: "button", class: "tv-card kind-" + cam.kind, "data-nav": true,
      dataset: { index: index, cameraId: cam.id }, onclick: function () { nav.go("view", { index: index }); } },
    h("span", { class: "tv-card-art" },
      stillImg(),
      h("svg:svg", { viewBox: "0 0 48 48", class: "tv-card-icon", "aria-hidden": "true" },
        h("svg:path", { d: "M6 15h24v18H6zM30 21l12-7v20l-12-7z", fill: "none", stroke: "currentColor",
          "stroke-width": "3", "stroke-linejoin": "round" })),
      h("span", { class: "tv-card-kind" }, TV.kindLabel(cam.kind))),
    h("span", { class: "tv-card-name" }, TV.localName(cam)),
    h("span", { class: "tv-card-sub" }, cam.ptz ? t("Can turn and zoom") : t("Fixed view")));
  }

  // ---------------------------------------------------------------------------------------- stills

  // A card shows a recent picture of its camera (GET /cameras/{id}/still.jpg: the latest keyframe, under
  // the live view's rule) over its icon: the cards on screen, every 10 s while the list is shown. A camera
  // without a picture (offline, not allowed, no engine) keeps its icon.
  var STILL_EVERY = 10000;

  function stillImg() {
    var img = h("img", { class: "tv-card-still", alt: "", loading: "lazy", decoding: "async", hidden: true });
    var st = img.style;
    st.position = "absolute"; st.left = "0"; st.top = "0"; st.width = "100%"; st.height = "100%";
    st.objectFit = "cover";
    return img;
  }

  function onScreen(el) {
    var r = el.getBoundingClientRect();
    return r.width > 0 && r.bottom > 0 && r.right > 0 && r.top < window.innerHeight && r.left < window.innerWidth;
  }

  function refreshStill(cardEl) {
    var img = $(".tv-card-still", cardEl);
    var now = Date.now();
    if (!img || now - Number(img.getAttribute("data-asked") || 0) < STILL_EVERY / 2) return; // just asked
    img.setAttribute("data-asked", String(now));
    // A new query each time: an <img> does not reload a URL it has shown (the TV has no service worker).
    var url = "/api/v1/cameras/" + cardEl.getAttribute("data-camera-id") + "/still.jpg?t=" + now;
    var next = new Image(); // loaded aside, so the old picture stays until the new one is there
    next.onload = function () { img.src = url; img.hidden = false; cardEl.classList.add("has-still"); };
    next.onerror = function () { img.hidden = true; cardEl.classList.remove("has-still"); };
    next.src = url;
  }

  function refreshStills() {
    if (nav.current() !== "cameras" || document.hidden) return;
    $$(".tv-card", $("#screen-list")).forEach(function (c) { if (onScreen(c)) refreshStill(c); });
  }
  setInterval(refreshStills, STILL_EVERY);
  nav.onShow(function (name) { if (name === "cameras") setTimeout(refreshStills, 0); });
  $("#tv-cards").addEventListener("focusin", function (e) { // a card scrolled into view by the remote
    var c = e.target.closest ? e.target.closest(".tv-card") : null;
    if (c) setTimeout(function () { refreshStill(c); }, 0);
  });

  function load() {
    var note = $("#cams-note");
    if (!TV.can("list_cameras")) {
      note.textContent = t("Your account cannot watch cameras.");
      fill($("#tv-cards"), h("p", { class: "tv-empty" }, t("Your account cannot watch cameras.")));
      return;
    }
    TV.api("/cameras").then(function (cams) {
      state.cameras = cams;
      note.textContent = t("Cameras: {count}", { count: cams.length });
      fill($("#tv-cards"), cams.length ? cams.map(card)
        : h("p", { class: "tv-empty" }, t("No cameras are shared with your village yet.")));
      refreshStills();
    }, function () { note.textContent = t("Could not load the cameras."); });
  }

  if (TV.startPortal) TV.startPortal(nav);
  nav.go("home");
  load();
}());

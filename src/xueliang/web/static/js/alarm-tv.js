// The TV's one-click alarm: the remote's red key or the Alarm tile, a confirm step, then the status
// from the police station, all with arrows / OK / Back.
//
// Red key (or OK on the tile) -> "Press OK or the red key again to call the police station"; OK on
// "Call", or the red key again (a double press within 3 s sends at once), sends the press; Back or
// "Cancel" closes, and so does doing nothing for 20 s. The screen says "received by the police station"
// only after the server's 2xx (it commits before it answers), then "an operator is on it" when the
// WebSocket reports `in_progress`. The red key is the alarm on every screen and every box family
// (tv/keys.js maps 403, 275 and ColorF0Red to it). A classic ES2015 script (docs/tv.md).
(function () {
  "use strict";

  var TV = window.XLTV = window.XLTV || {};
  var h = TV.h;
  var fill = TV.fill;
  var t = TV.t;
  var formatDateTime = TV.formatDateTime;
  var A = TV.alarms;
  var AlarmRefused = A.AlarmRefused;
  var AlarmStore = A.AlarmStore;
  var connect = A.connect;
  var followed = A.followed;
  var pendingPress = A.pendingPress;
  var raise = A.raise;
  var refusedText = A.refusedText;
  var statusText = A.statusText;

  const CONFIRM_TIMEOUT_MS = 20000; // an unanswered confirm (a stray press) goes away by itself

  const ICONS = {
    alarm: "M24 6l19 34H5z M24 19v10 M24 33v2",
    ok: "M10 25l9 9 19-20",
    busy: "M24 8a16 16 0 1 1-16 16",
  };

  function icon(name) {
    return h("svg:svg", { viewBox: "0 0 48 48", class: "tv-alarm-icon", "aria-hidden": "true" },
      h("svg:path", { d: ICONS[name], fill: "none", stroke: "currentColor", "stroke-width": "3.4",
        "stroke-linecap": "round", "stroke-linejoin": "round" }));
  }

  /**
   * Builds the alarm overlay. `tile` is the home screen's Alarm tile (its note shows the latest status);
   * `restoreFocus(el)` gives focus back to the page when the overlay closes.
   * Returns {handleKey(key, repeat) -> handled?, press(from)}.
   */
  function createTvAlarm(opts) {
    var tile = opts.tile;
    var restoreFocus = opts.restoreFocus;
    const store = new AlarmStore();
    const state = { phase: "idle", alarmId: null, sending: false, returnTo: null, attempt: 0, timer: 0 };

    const title = h("h2", { id: "tv-alarm-title" });
    const text = h("p", { class: "tv-alarm-text" });
    const meta = h("p", { class: "tv-alarm-meta" });
    const art = h("div", { class: "tv-alarm-art" });
    const actions = h("div", { class: "tv-alarm-actions" });
    const hint = h("p", { class: "tv-alarm-hint" });
    const box = h("div", { class: "tv-alarm-box" }, art, title, text, meta, actions, hint);
    const overlay = h("div", { id: "tv-alarm", class: "tv-alarm", role: "dialog", "aria-modal": "true",
      "aria-labelledby": "tv-alarm-title", "aria-live": "assertive", hidden: true }, box);
    document.body.appendChild(overlay);
    const note = tile ? tile.querySelector(".tile-note") : null;

    function button(label, cls, onOk) {
      const b = h("button", { type: "button", class: "tv-btn " + cls, "data-alarm-nav": true }, label);
      b.addEventListener("click", (e) => { e.preventDefault(); onOk(); });
      return b;
    }

    function render(phase, options) {
      const focusFirst = !options || options.focusFirst !== false;
      if (state.phase === "idle" && phase !== "idle") {
        const active = document.activeElement;
        state.returnTo = active && active !== document.body && !overlay.contains(active) ? active : null;
      }
      state.phase = phase;
      overlay.dataset.phase = phase;
      if (phase !== "status" && phase !== "refused") delete overlay.dataset.status;
      clearTimeout(state.timer);
      if (phase === "confirm") state.timer = setTimeout(close, CONFIRM_TIMEOUT_MS);
      if (phase === "idle") {
        overlay.hidden = true;
        const back = state.returnTo;
        state.returnTo = null;
        restoreFocus(back);
        return;
      }
      overlay.hidden = false;
      const focused = Array.prototype.slice.call(actions.querySelectorAll("button")).indexOf(document.activeElement);
      const alarm = state.alarmId ? store.get(state.alarmId) : null;
      meta.textContent = "";
      fill(hint);
      if (phase === "confirm") {
        fill(art, icon("alarm"));
        title.textContent = t("Call the police station?");
        text.textContent = t("Press OK or the red key again to call the police station.");
        const open = latestOpen();
        if (open) meta.textContent = t("Your household's alarm is already with the police station; pressing again tells them it is urgent.");
        fill(actions, 
          button(t("Call the police station"), "tv-btn-alarm", send),
          button(t("Cancel"), "", close));
        appendAll(hint, h("span", {}, h("kbd", {}, t("OK")), " ", t("Call")), h("span", {}, h("kbd", { class: "kbd-red" }), " ", t("Call")),
          h("span", {}, h("kbd", {}, t("Back")), " ", t("Cancel")));
      } else if (phase === "sending") {
        fill(art, icon("busy"));
        title.textContent = t("Calling the police station…");
        text.textContent = state.attempt > 1
          ? t("No answer yet. Still trying (attempt {n}): keep the TV on.", { n: state.attempt })
          : t("Please wait a moment.");
        fill(actions, button(t("Back to home"), "", close));
        appendAll(hint, h("span", {}, h("kbd", {}, t("Back")), " ", t("Hide this message; sending goes on")));
      } else if (phase === "status" || phase === "refused") {
        const status = alarm ? alarm.status : "received";
        overlay.dataset.status = phase === "refused" ? "refused" : status;
        fill(art, icon(phase === "refused" ? "alarm" : "ok"));
        if (phase === "refused") {
          title.textContent = t("The alarm was not sent");
          text.textContent = state.refused;
        } else {
          title.textContent = statusText(status);
          text.textContent = {
            received: t("The police station has your alarm. Stay where you are safe; help is being arranged."),
            in_progress: t("An operator at the police station is handling your alarm."),
            closed: t("If you still need help, press the red key again or call 110."),
          }[status] || "";
          if (alarm) {
            meta.textContent = t("Alarm no. {id} · received {time}", { id: alarm.id, time: formatDateTime(alarm.received_at) })
              + (alarm.press_count > 1 ? " · " + t("pressed {n} times", { n: alarm.press_count }) : "");
          }
        }
        fill(actions, button(t("Back to home"), "tv-btn-primary", close));
        appendAll(hint, h("span", {}, h("kbd", {}, t("OK")), " / ", h("kbd", {}, t("Back")), " ", t("Return")));
      }
      // The buttons are new elements: focus the first, or the one in the place that had focus.
      const buttons = actions.querySelectorAll("button");
      const target = focusFirst ? buttons[0] : focused >= 0 ? buttons[Math.min(focused, buttons.length - 1)] : null;
      if (target) target.focus();
    }

    function latestOpen() {
      const open = store.open();
      open.sort((a, b) => b.id - a.id);
      return open[0] || null;
    }

    function updateTile() {
      if (!note) return;
      const alarm = state.sending ? null : (state.alarmId && store.get(state.alarmId)) || latestOpen();
      tile.classList.toggle("alarm-active", Boolean(state.sending || (alarm && alarm.status !== "closed")));
      if (state.sending) note.textContent = t("Sending the alarm…");
      else if (alarm && alarm.status !== "closed") note.textContent = statusText(alarm.status);
      else note.textContent = t("Press OK or the red key");
    }

    function close() {
      if (state.phase !== "idle") render("idle");
    }

    function send(resume = null) {
      if (state.sending) { render("sending"); return; }
      state.sending = true;
      state.attempt = 1;
      state.alarmId = null;
      render("sending");
      updateTile();
      raise({ source: "tv" }, {
        resume,
        onAttempt: (info) => {
          state.attempt = info.attempt;
          if (state.phase === "sending") render("sending", { focusFirst: false });
        },
      }).then((out) => {
        store.put(out.alarm);
        state.alarmId = out.alarm.id;
        state.sending = false;
        render("status");
        updateTile();
      }, (err) => {
        state.sending = false;
        state.refused = err instanceof AlarmRefused ? refusedText(err) : String(err);
        render("refused");
        updateTile();
      });
    }

    /** The red key (from = "red") or OK on the Alarm tile (from = "tile"): the first press asks, the red
     * key again (typically a double press within a second or two) sends at once. */
    function press(from) {
      if (state.phase === "confirm") {
        if (from === "red") send();
        return;
      }
      if (state.sending) { render("sending"); return; }
      render("confirm");
    }

    function moveFocus(dir) {
      const items = Array.prototype.slice.call(actions.querySelectorAll("button"));
      const i = items.indexOf(document.activeElement);
      const next = items[Math.min(Math.max((i < 0 ? 0 : i) + dir, 0), items.length - 1)];
      if (next) next.focus();
    }

    /** Keys while the overlay is open, and the red key anywhere. Returns true when handled. */
    function handleKey(key, repeat = false) {
      if (key === "red") {
        if (!repeat) press("red"); // a held key auto-repeats: that is one press, not a double press
        return true;
      }
      if (state.phase === "idle") return false;
      if (key === "back") close();
      else if (key === "ok") {
        const el = overlay.contains(document.activeElement) ? document.activeElement : actions.querySelector("button");
        if (el) el.click();
      } else if (key === "left" || key === "up") moveFocus(-1);
      else if (key === "right" || key === "down") moveFocus(1);
      return true;
    }

    // The police station's side: status changes of this household's alarms.
    function apply(alarm) {
      const before = store.get(alarm.id);
      if (!store.put(alarm)) return;
      const mine = state.alarmId === alarm.id;
      if (!state.sending && (mine || (!state.alarmId && alarm.status !== "closed"))) {
        state.alarmId = alarm.id;
        // Pop up when the status word changes (received -> an operator is on it -> closed), unless the
        // resident is deciding on a new press right now; an open status screen just follows.
        const news = !before || before.status !== alarm.status;
        if (state.phase === "status") render("status", { focusFirst: false });
        else if (news && state.phase === "idle") render("status");
      }
      updateTile();
    }

    connect({
      hello: (msg) => {
        store.reset((msg.alarms || []).filter(followed));
        const current = state.alarmId && store.get(state.alarmId);
        if (current && state.phase === "status") render("status", { focusFirst: false });
        updateTile();
      },
      alarm: (msg) => { if (followed(msg.alarm)) apply(msg.alarm); },
    });

    updateTile();
    const pending = pendingPress();
    if (pending && pending.source === "tv") send(pending);

    return {
      handleKey,
      press,
      isOpen: () => state.phase !== "idle",
    };
  }

  function appendAll(el) {
    for (let i = 1; i < arguments.length; i += 1) el.appendChild(arguments[i]);
  }

  TV.createTvAlarm = createTvAlarm;
}());

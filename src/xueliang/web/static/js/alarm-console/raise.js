// "One-click alarm" on the PC for people who may raise but not handle alarms (residents...): a confirm
// dialog, the press (re-sent until the station answers), then the alarm's status as it changes.

import { AlarmRefused, AlarmStore, connect, raise, refusedText, statusText } from "../alarm-client.js";
import { toast } from "../api.js";
import { $, h } from "../dom.js";
import { formatDateTime, t } from "../i18n.js";

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

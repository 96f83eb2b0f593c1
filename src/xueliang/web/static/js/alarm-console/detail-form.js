// The forms some workflow steps ask for first: to whom an alarm is dispatched (typed, or a guard of the
// village picked from its plan), and the note of a resolve or a false alarm (required for the latter).

import { h } from "../dom.js";
import { t } from "../i18n.js";

/**
 * Opens the form of `spec` (workflow.js) for alarm `a` in `dialog`; guards(a) -> Map of user id -> label
 * for the pick list; submit(body) once the form is valid.
 */
export async function openActionForm(dialog, spec, a, { guards, submit }) {
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
    submit(body);
  });
  dialog.replaceChildren(form);
  dialog.showModal();
  (to || note).focus();
}

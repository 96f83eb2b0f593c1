// The alarm detail: one alarm's state kept fresh (its timeline re-read after changes), the workflow
// steps, notes and the village plan (activate / stand down, guard points updated live from task events).
// Drawing is detail-view.js; the forms some steps ask for, detail-form.js.

import { ApiError, api, toast } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { openActionForm } from "./detail-form.js";
import { renderDetailView } from "./detail-view.js";
import { mergeMob, mobView, planGuards, withTask } from "./mobilization.js";
import { conflictText } from "./words.js";

/**
 * The alarm detail in `container`: fields, workflow buttons, notes, cameras, mobilization, timeline.
 * hooks: openCamera(id), openCameras(alarm), onMobilization(alarm, view|null, {fit}) (none: no camera hooks).
 */
export function createDetail(container, feed, hooks = {}) {
  const st = { id: null, detail: null, mob: null, plan: null, error: "", busy: false, seq: 0, refetch: 0 };

  function alarm() { return feed.store.get(st.id) || st.detail; }
  const view = () => (st.mob ? mobView(st.mob, st.plan) : null);

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
    if (hooks.onMobilization) hooks.onMobilization(alarm(), view());
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
    if (hooks.onMobilization) hooks.onMobilization(alarm(), view(), { fit: !stand });
    refresh();
  }

  function task(msg) {
    if (!st.mob || msg.task.mobilization_id !== st.mob.id) return;
    st.mob = withTask(st.mob, msg.task);
    render();
    if (hooks.onMobilization) hooks.onMobilization(alarm(), view());
  }

  // Forms: dispatch (to whom), and a note for resolve / false alarm ---------------------------------------
  const dialog = h("dialog", { class: "dialog alarm-dialog", "aria-labelledby": "alarm-dialog-title" });
  document.body.append(dialog);

  async function guards(a) {
    if (!st.plan) st.plan = await api(`/alarms/plans/${a.region_id}`, { quiet: true }).catch(() => null);
    return planGuards(st.plan);
  }

  function onAction(spec) {
    if (!spec.form) return act(spec);
    return openActionForm(dialog, spec, alarm(), { guards, submit: (body) => act(spec, body) });
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

  function render() {
    const a = alarm();
    if (!a || st.id === null) return;
    renderDetailView(container, a, { st, mob: view(), hooks, onAction, onMobilize: mobilize, onNote: addNote });
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

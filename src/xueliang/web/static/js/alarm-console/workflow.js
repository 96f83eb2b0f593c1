// The alarm workflow as the server's table has it (alarms/workflow.py, in the page's boot JSON as
// XL.alarm_workflow): which states each action may start from, and which states are closed. The server
// decides; the console only greys out the buttons that cannot work. What each button says, and whether it
// asks for a form first, is the console's own.

import { t } from "../i18n.js";

const table = (window.XL && window.XL.alarm_workflow) || { actions: [], closed: [] };

const LOOK = {
  acknowledge: { label: () => t("Acknowledge") },
  dispatch: { label: () => t("Dispatch…"), form: "dispatch" },
  on_scene: { label: () => t("On scene") },
  resolve: { label: () => t("Resolve…"), form: "note" },
  false_alarm: { label: () => t("False alarm…"), form: "note" },
};

export const CLOSED = new Set(table.closed);

/** The actions in the table's order: {action, path (of its route), from, to, label(), form}. */
export const ACTIONS = table.actions.map((row) => ({
  action: row.action,
  path: row.action.replaceAll("_", "-"),
  from: row.from,
  to: row.to,
  label: () => row.action,
  ...LOOK[row.action],
}));

/** The suggested next step from `state`: the first action the table allows from it (none when closed). */
export function nextAction(state) {
  const spec = ACTIONS.find((a) => a.from.includes(state));
  return spec ? spec.action : null;
}

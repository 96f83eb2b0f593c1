// The village plan of an alarm as the console shows it: guard points with their tasks, manned or not.

/** A mobilization read over HTTP may predate a task event that the WebSocket already delivered:
 * keep whichever copy of each task is further along, so a manned point never flips back. */
export function mergeMob(fresh, known) {
  if (!fresh || !known || known.id !== fresh.id) return fresh;
  const rank = { assigned: 0, in_position: 1, closed: 2 };
  const seen = new Map(known.tasks.map((x) => [x.id, x]));
  return { ...fresh, tasks: fresh.tasks.map((x) => {
    const k = seen.get(x.id);
    return k && rank[k.state] > rank[x.state] ? k : x;
  }) };
}

/** `mob` with task `task` added or replaced (a task event from the feed). */
export function withTask(mob, task) {
  return { ...mob, tasks: mob.tasks.some((x) => x.id === task.id)
    ? mob.tasks.map((x) => (x.id === task.id ? task : x)) : [...mob.tasks, task] };
}

/** Guard points of the plan with their tasks: manned (someone in position) and since when. */
export function mobView(mob, plan) {
  const tasks = mob ? mob.tasks : [];
  const points = new Map();
  for (const p of (plan && plan.points) || []) points.set(p.id, { id: p.id, name: p.name, kind: p.kind, lat: p.lat, lon: p.lon, tasks: [] });
  for (const task of tasks) {
    if (!points.has(task.point_id)) {
      points.set(task.point_id, { id: task.point_id, name: task.point_name, kind: task.point_kind, lat: task.lat, lon: task.lon, tasks: [] });
    }
    points.get(task.point_id).tasks.push(task);
  }
  const list = [...points.values()].map((p) => {
    const inPos = p.tasks.filter((x) => x.state === "in_position" && x.in_position_at);
    const since = inPos.length ? inPos.map((x) => x.in_position_at).sort()[0] : null;
    return { ...p, manned: inPos.length > 0, since };
  });
  return { points: list, active: Boolean(mob && !mob.stood_down_at), mob };
}

/** The people assigned to the plan's guard points: user id -> "name · point" (first point of each). */
export function planGuards(plan) {
  const seen = new Map();
  for (const p of (plan && plan.points) || []) {
    p.assignees.forEach((uid, i) => { if (!seen.has(uid)) seen.set(uid, `${p.assignee_names[i]} · ${p.name}`); });
  }
  return seen;
}

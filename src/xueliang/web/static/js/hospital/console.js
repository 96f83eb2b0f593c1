// The hospital staff console (/hospital): the day's list with attended / no-show, the sessions of the
// coming 14 days per department and doctor (set one up, stop one with a reason: its bookings move or are
// cancelled), and the hospital's departments and doctors. Hospital staff see their hospital; the county
// admin picks any. Everything comes from /api/v1/hospital (docs/hospital-api.md); the server decides
// what is allowed, the page only greys out what cannot work. "Today" is the node's (data-today).

import { api, toast, wireCommon } from "../api.js";
import { $, $$, h } from "../dom.js";
import { formatClock, localName, t } from "../i18n.js";

wireCommon();

const root = $("#h-console");
const TODAY = root.dataset.today;
const DAYS = 14;
const S = { hospitals: [], hospital: null, departments: [], doctors: new Map(), stopping: null };

const PERIOD = () => ({ morning: t("Morning"), afternoon: t("Afternoon") });
const STATE = () => ({
  pending: t("Awaiting the household"), booked: t("Booked"), cancelled: t("Cancelled"),
  attended: t("Attended"), no_show: t("No-show"), moved: t("Moved"),
});
const MARKABLE = new Set(["pending", "booked", "attended", "no_show"]);

/** "YYYY-MM-DD" plus n days, as "YYYY-MM-DD" (calendar arithmetic in UTC: no time zone shifts). */
function addDays(day, n) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}
const weekday = new Intl.DateTimeFormat(document.documentElement.lang || "zh-CN", { weekday: "short", timeZone: "UTC" });
const dayLabel = (day) => `${day.slice(5)} ${weekday.format(new Date(`${day}T00:00:00Z`))}`;
const deptName = (id) => { const d = S.departments.find((x) => x.id === id); return d ? localName(d) : ""; };
const stateTag = (s) => h("span", { class: `h-state s-${s}` }, STATE()[s] || s);

function table(el, head, rows, empty) {
  el.replaceChildren(h("thead", {}, h("tr", {}, ...head.map((x) => h("th", {}, x)))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: head.length, class: "h-muted" }, empty))));
}

function deptOptions(select, withAll) {
  const keep = select.value;
  select.replaceChildren(
    ...(withAll ? [h("option", { value: "" }, t("All clinical departments"))] : []),
    ...S.departments.map((d) => h("option", { value: d.id }, localName(d))));
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

// --- tabs -------------------------------------------------------------------------------------------

function showTab(name) {
  for (const b of $$(".h-subtabs [data-tab]")) b.setAttribute("aria-selected", String(b.dataset.tab === name));
  for (const s of $$(".h-tab")) s.hidden = s.id !== `tab-${name}`;
  if (name === "day") loadDay();
  if (name === "sessions") loadSessions();
  if (name === "departments") loadDepartments();
  if (history.replaceState) history.replaceState(null, "", `#${name}`);
}
for (const b of $$(".h-subtabs [data-tab]")) b.addEventListener("click", () => showTab(b.dataset.tab));

// --- the day's list ---------------------------------------------------------------------------------

async function loadDay() {
  if (!S.hospital) return;
  root.dataset.ready = "";
  let rows;
  try {
    rows = await api("/hospital/staff/day", {
      query: { hospital_id: S.hospital.id, day: $("#h-day").value || TODAY, department_id: $("#h-day-dept").value },
    });
  } catch { return; }
  rows.sort((a, b) => (a.arrival_at < b.arrival_at ? -1 : a.arrival_at > b.arrival_at ? 1 : a.department_id - b.department_id));
  const live = rows.filter((b) => b.state !== "cancelled" && b.state !== "moved");
  $("#h-day-summary").textContent = t("{n} patients, {done} attended, {missed} no-show", {
    n: live.length, done: rows.filter((b) => b.state === "attended").length,
    missed: rows.filter((b) => b.state === "no_show").length,
  });
  table($("#h-day-list"), [t("No."), t("Arrival"), t("Patient"), t("ID number"), t("Phone"), t("Clinical department"),
    t("Doctor"), t("State"), t("Booked by"), ""], rows.map(dayRow), t("No bookings on this day."));
  root.dataset.ready = "day";
}

function dayRow(b) {
  const future = b.day > TODAY;
  const markable = MARKABLE.has(b.state) && !future;
  const mark = (what, label, cls) => h("button", {
    type: "button", class: `btn btn-sm ${cls}`, dataset: { mark: what },
    disabled: !markable || b.state === (what === "attended" ? "attended" : "no_show"),
    title: future ? t("Attendance is marked on the day.") : null,
    onclick: (e) => markBooking(b, what, e.currentTarget.closest("tr")),
  }, label);
  return h("tr", { dataset: { bookingId: b.id, state: b.state } },
    h("td", { class: "h-serial" }, b.serial),
    h("td", {}, formatClock(new Date(b.arrival_at))),
    h("td", {}, b.patient_name),
    h("td", { class: "h-mono" }, b.id_masked),
    h("td", { class: "h-mono" }, b.phone_masked),
    h("td", {}, b.department_name),
    h("td", {}, `${b.doctor_name} · ${PERIOD()[b.period] || b.period}`),
    h("td", {}, stateTag(b.state)),
    h("td", { class: "h-muted" }, b.booked_by_grid_worker ? `${t("Grid worker")} ${b.booked_by || ""}` : (b.booked_by || "")),
    h("td", {}, h("div", { class: "h-row-actions" },
      mark("attended", t("Attended"), "btn-primary"), mark("no-show", t("No-show"), "btn-danger"),
      h("button", { type: "button", class: "btn btn-sm btn-ghost", dataset: { reveal: b.id },
        title: t("Shows the whole ID number and phone; the read is recorded in the audit trail."),
        onclick: (e) => reveal(b, e.currentTarget.closest("tr")) }, t("Full ID")))));
}

/** The whole ID number and phone of one booking, for the counter to check; the server audits each read. */
async function reveal(b, tr) {
  let p;
  try { p = await api(`/hospital/staff/bookings/${b.id}/personal`); } catch { return; }
  const cells = tr.querySelectorAll("td.h-mono");
  cells[0].textContent = p.id_number;
  cells[1].textContent = p.phone;
  tr.dataset.revealed = "true";
}

async function markBooking(b, what, tr) {
  let out;
  try { out = await api(`/hospital/staff/bookings/${b.id}/${what}`, { method: "POST" }); } catch { return; }
  toast(what === "attended" ? t("{serial} {name}: attended", { serial: out.serial, name: out.patient_name })
    : t("{serial} {name}: no-show recorded", { serial: out.serial, name: out.patient_name }), "ok");
  tr.replaceWith(dayRow({ ...b, ...out, booked_by: b.booked_by }));
}

$("#h-day").addEventListener("change", loadDay);
$("#h-day-dept").addEventListener("change", loadDay);
$("#h-day-refresh").addEventListener("click", loadDay);

// --- sessions of the coming 14 days ------------------------------------------------------------------

async function doctorsOf(deptId) {
  if (!S.doctors.has(deptId)) S.doctors.set(deptId, await api(`/hospital/departments/${deptId}/doctors`));
  return S.doctors.get(deptId);
}

async function loadSessions() {
  const deptId = Number($("#h-s-dept").value);
  if (!deptId) return;
  root.dataset.ready = "";
  let doctors;
  let sessions;
  try {
    [doctors, sessions] = await Promise.all([doctorsOf(deptId),
      api(`/hospital/departments/${deptId}/sessions`, { query: { from: TODAY, to: addDays(TODAY, DAYS - 1) } })]);
  } catch { return; }
  $("#h-new-doctor").replaceChildren(...doctors.map((d) => h("option", { value: d.id }, `${d.name} · ${d.title}`)));
  const at = new Map(sessions.map((s) => [`${s.doctor_id}|${s.day}|${s.period}`, s]));
  const rows = [];
  for (let i = 0; i < DAYS; i += 1) {
    const day = addDays(TODAY, i);
    rows.push(h("tr", { dataset: { day } }, h("td", { class: "h-daycell" }, dayLabel(day)),
      ...doctors.map((doc) => h("td", {}, ...["morning", "afternoon"].map((p) => sessionCell(doc, day, p, at.get(`${doc.id}|${day}|${p}`)))))));
  }
  table($("#h-sessions"), [t("Day"), ...doctors.map((d) => `${d.name} · ${d.title}`)], rows, "");
  root.dataset.ready = "sessions";
}

function sessionCell(doc, day, period, s) {
  const label = PERIOD()[period];
  if (!s) {
    return h("div", { class: "h-cell", dataset: { doctorId: doc.id, day, period } },
      h("span", {}, label, " ", h("small", {}, t("none"))),
      h("button", { type: "button", class: "btn btn-ghost", onclick: () => prefill(doc.id, day, period) }, t("Set up")));
  }
  if (s.stopped) {
    return h("div", { class: "h-cell stopped", dataset: { sessionId: s.id, stopped: "true" }, title: s.stop_reason },
      h("span", {}, label, " ", h("small", {}, t("stopped"))), h("small", { class: "h-reason" }, s.stop_reason));
  }
  const started = new Date(s.starts_at) <= new Date() && day <= TODAY;
  return h("div", { class: "h-cell", dataset: { sessionId: s.id, booked: s.booked } },
    h("span", {}, label, " ", h("small", {}, `${s.booked}/${s.capacity}`)),
    h("button", { type: "button", class: "btn btn-danger", dataset: { stop: s.id }, disabled: started,
      onclick: () => askStop(s, doc) }, t("Stop")));
}

function prefill(doctorId, day, period) {
  $("#h-new-doctor").value = String(doctorId);
  $("#h-new-day").value = day;
  $("#h-new-period").value = period;
  $("#h-new-capacity").focus();
}

$("#h-s-dept").addEventListener("change", loadSessions);

$("#h-new").addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = {
    doctor_id: Number($("#h-new-doctor").value), day: $("#h-new-day").value,
    period: $("#h-new-period").value, capacity: Number($("#h-new-capacity").value),
  };
  let s;
  try { s = await api("/hospital/staff/sessions", { method: "POST", body }); } catch { return; }
  toast(t("Session set up: {doctor}, {day} {period}, {n} places",
    { doctor: s.doctor_name, day: s.day, period: PERIOD()[s.period], n: s.capacity }), "ok");
  loadSessions();
});

// --- stopping a session -------------------------------------------------------------------------------

const dialog = $("#h-stop");

function askStop(s, doc) {
  S.stopping = s;
  $("#h-stop-what").textContent = t("{doctor}, {day} {period}: {n} bookings", {
    doctor: `${doc.name} · ${doc.title}`, day: s.day, period: PERIOD()[s.period], n: s.booked });
  $("#h-stop-reason").value = "";
  $("#h-stop-move").checked = true;
  dialog.showModal();
  $("#h-stop-reason").focus();
}

$("#h-stop-cancel").addEventListener("click", () => dialog.close());
$("#h-stop-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const s = S.stopping;
  const reason = $("#h-stop-reason").value.trim();
  if (!s || !reason) { $("#h-stop-reason").focus(); return; }
  const ok = $("#h-stop-ok");
  ok.disabled = true;
  let out;
  try {
    out = await api(`/hospital/staff/sessions/${s.id}/stop`, { method: "POST", body: { reason, move: $("#h-stop-move").checked } });
  } catch { return; } finally { ok.disabled = false; }
  dialog.close();
  const result = $("#h-stop-result");
  result.textContent = t("Stopped {doctor}, {day} {period}: {moved} bookings moved, {cancelled} cancelled; the households are told.", {
    doctor: out.session.doctor_name, day: out.session.day, period: PERIOD()[out.session.period],
    moved: out.moved, cancelled: out.cancelled });
  result.dataset.moved = out.moved;
  result.dataset.cancelled = out.cancelled;
  result.hidden = false;
  loadSessions();
});

// --- departments and doctors --------------------------------------------------------------------------

async function loadDepartments() {
  let lists;
  try { lists = await Promise.all(S.departments.map((d) => doctorsOf(d.id))); } catch { return; }
  $("#h-departments").replaceChildren(...S.departments.map((d, i) => h("div", { class: "h-dept", dataset: { departmentId: d.id } },
    h("h3", {}, localName(d)), h("div", { class: "h-muted" }, `${d.code} · ${d.location}`),
    h("ul", {}, ...lists[i].map((doc) => h("li", {}, `${doc.name} · ${doc.title}`, doc.specialty && doc.specialty !== d.name ? h("span", { class: "h-muted" }, ` (${doc.specialty})`) : null))))));
  root.dataset.ready = "departments";
}

// --- the hospital -------------------------------------------------------------------------------------

async function pickHospital(id) {
  S.hospital = S.hospitals.find((x) => x.id === id) || S.hospitals[0];
  const hs = S.hospital;
  $("#h-hospital-info").textContent = `${hs.address} · ${hs.phone}`;
  S.departments = await api(`/hospital/hospitals/${hs.id}/departments`);
  S.doctors.clear();
  deptOptions($("#h-day-dept"), true);
  deptOptions($("#h-s-dept"), false);
  const tab = ($$(".h-subtabs [aria-selected='true']")[0] || {}).dataset;
  showTab(tab ? tab.tab : "day");
}

async function start() {
  $("#h-day").value = TODAY;
  $("#h-new-day").value = addDays(TODAY, 1);
  $("#h-new-day").min = TODAY;
  try { S.hospitals = await api("/hospital/staff/hospitals"); } catch { return; }
  if (!S.hospitals.length) {
    $("#h-hospital-info").textContent = t("No hospital is linked to your account yet; ask the county admin.");
    return;
  }
  $("#h-hospital").replaceChildren(...S.hospitals.map((x) => h("option", { value: x.id }, localName(x))));
  $("#h-hospital").disabled = S.hospitals.length < 2;
  $("#h-hospital").addEventListener("change", () => pickHospital(Number($("#h-hospital").value)));
  const wanted = location.hash.slice(1);
  if (["day", "sessions", "departments"].includes(wanted)) {
    for (const b of $$(".h-subtabs [data-tab]")) b.setAttribute("aria-selected", String(b.dataset.tab === wanted));
  }
  await pickHospital(S.hospitals[0].id);
}

start();

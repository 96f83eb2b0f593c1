// Hospital booking (/api/v1/hospital, docs/hospital-api.md): hospital -> department -> session -> a
// numbered place, held for 5 minutes -> a household member -> confirm -> the serial number shown large.
// My bookings (cancel until 17:00 the day before) and the household's messages. Household members are
// entered once and remembered on this device only (like the TV), never sent anywhere but the booking.

import { api, can, me, toast } from "../api.js";
import { h } from "../dom.js";
import { formatDateTime, t } from "../i18n.js";
import { bilingual, fact, fill, formatDay, heading, item, list, name } from "./common.js";

const flow = { session: null, hold: null, member: null };
const MEMBERS_KEY = `xl-portal-members-${(me && me.id) || 0}`;

function loadMembers() {
  try { return JSON.parse(localStorage.getItem(MEMBERS_KEY) || "[]"); } catch { return []; }
}
function saveMembers(members) { localStorage.setItem(MEMBERS_KEY, JSON.stringify(members.slice(0, 12))); }
export function maskId(id) { return id.length === 18 ? `${id.slice(0, 3)}***********${id.slice(14)}` : id; }

const timeOf = (iso) => formatDateTime(iso).slice(-8, -3);
const periodText = (p) => (p === "morning" ? t("Morning") : t("Afternoon"));
const stateText = (s) => ({ pending: t("Waiting for confirmation"), booked: t("Booked"), cancelled: t("Cancelled"),
  attended: t("Attended"), no_show: t("No-show"), moved: t("Moved") }[s] || s);

function bookingLinks() {
  return h("p", { class: "p-links" }, h("a", { class: "btn", href: "#bookings", id: "p-my-bookings" }, t("My bookings and messages")));
}

export async function hospitals(root) {
  const hs = await api("/hospital/hospitals");
  fill(root, heading(t("Hospital booking"), t("Book a numbered place up to 7 days ahead.")),
    can("book_hospital") ? bookingLinks() : null,
    list(hs.map((x) => item(name(x), `${x.address} · ${x.phone}`, { href: `#booking-hospital/${x.id}` })), t("No hospitals.")));
}

export async function departments(root, [id]) {
  const [hs, ds] = await Promise.all([api("/hospital/hospitals"), api(`/hospital/hospitals/${id}/departments`)]);
  const hosp = hs.find((x) => String(x.id) === String(id));
  fill(root, heading(hosp ? name(hosp) : t("Hospital booking"), t("Choose a department")),
    list(ds.map((d) => item(name(d), d.location, { href: `#booking-dept/${d.id}`, attrs: { "data-dept": d.code } })), t("No departments.")));
}

export async function sessions(root, [id], state) {
  const ss = await api(`/hospital/departments/${id}/sessions`);
  if (!state.current()) return;
  const days = [...new Set(ss.map((s) => s.day))];
  fill(root, heading(t("Choose a doctor and time")),
    days.length ? days.map((day) => h("section", { class: "p-day" }, h("h2", { class: "p-h2" }, formatDay(day)),
      h("ul", { class: "p-list" }, ss.filter((s) => s.day === day).map((s) => item(
        `${s.doctor_name} · ${s.doctor_title}`, periodText(s.period) + " · " + (s.bookable ? t("{n} places free", { n: s.free }) : bilingual(s.reason)),
        { href: s.bookable && s.free > 0 ? `#booking-session/${s.id}` : undefined,
          onclick: s.bookable && s.free > 0 ? undefined : () => toast(bilingual(s.reason) || t("Fully booked")),
          cls: s.bookable && s.free > 0 ? "" : "p-disabled", attrs: { "data-session": s.id } }))))) : h("p", { class: "empty" }, t("No sessions in the booking window.")));
}

export async function places(root, [id], state) {
  const s = await api(`/hospital/sessions/${id}`);
  if (!state.current()) return;
  flow.session = s;
  const pick = async (number) => {
    flow.hold = await api("/hospital/holds", { method: "POST", body: { session_id: s.id, number } });
    location.hash = "#booking-member";
  };
  fill(root, 
    heading(`${s.doctor_name} · ${formatDay(s.day)} ${periodText(s.period)}`, t("Pick a place: the number sets your arrival time.")),
    can("book_hospital") ? h("div", { class: "p-places" }, s.places.map((p) => h("button", {
      type: "button", class: "p-place", disabled: !p.free, "data-place": p.number, onclick: () => pick(p.number),
    }, h("b", {}, String(p.number)), h("span", {}, timeOf(p.arrival_at))))) : h("p", { class: "muted" }, t("Your role may not book.")));
}

/** The patient's form; `care` is a person in a grid worker's care (their household is booked for, and
 * nothing is remembered on the worker's phone). */
function memberForm(members, care = null) {
  const nameIn = h("input", { class: "field", id: "p-member-name", maxlength: 40, autocomplete: "name", value: care ? care.name : "" });
  const idIn = h("input", { class: "field", id: "p-member-id", maxlength: 18, autocomplete: "off" });
  const phoneIn = h("input", { class: "field", id: "p-member-phone", maxlength: 11, inputmode: "tel", autocomplete: "tel" });
  const err = h("p", { class: "form-error", id: "p-member-error", role: "alert" });
  const form = h("form", { class: "p-card", id: "p-member-form" }, h("h2", { class: "p-h2" }, t("Add a household member")),
    h("label", { class: "lbl", for: "p-member-name" }, t("Name")), nameIn,
    h("label", { class: "lbl", for: "p-member-id" }, t("ID number")), idIn,
    h("label", { class: "lbl", for: "p-member-phone" }, t("Mobile phone")), phoneIn, err,
    h("button", { type: "submit", class: "btn btn-primary p-wide", id: "p-member-save" }, t("Save and continue")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const m = { name: nameIn.value.trim(), id_number: idIn.value.trim().toUpperCase(), phone: phoneIn.value.trim() };
    if (!m.name) { err.textContent = t("Please enter the name."); return; }
    if (!/^1\d{10}$/.test(m.phone)) { err.textContent = t("Please enter an 11-digit mobile number."); return; }
    try {
      await api("/hospital/id-check", { method: "POST", body: { id_number: m.id_number }, quiet: true });
    } catch (ex) {
      err.textContent = t("The ID number is not valid: {detail}", { detail: ex.detail || ex.message });
      return;
    }
    if (care) m.household_id = care.household_id;
    else saveMembers([m, ...members.filter((x) => x.id_number !== m.id_number)]);
    flow.member = m;
    location.hash = "#booking-confirm";
  });
  return form;
}

export async function member(root) {
  if (!flow.hold) { location.hash = "#booking"; return; }
  if (me && me.role === "grid_worker") { await careMember(root); return; }
  const members = loadMembers();
  fill(root, heading(t("Who is the patient?"),
    t("Place {n} is held for you until {time}.", { n: flow.hold.number, time: timeOf(flow.hold.expires_at) })),
  members.length ? h("ul", { class: "p-list" }, members.map((m, i) => item(m.name, `${maskId(m.id_number)} · ${m.phone}`,
    { onclick: () => { flow.member = m; location.hash = "#booking-confirm"; }, attrs: { "data-member": i } }))) : null,
  memberForm(members));
}

/** A grid worker books for an elderly person in their care; the booking waits for OK on that person's TV. */
async function careMember(root) {
  const care = (await api("/grid/care", { quiet: true }).catch(() => [])).filter((p) => p.household_id);
  const formBox = h("div", { id: "p-care-form" });
  fill(root, heading(t("Book for a person in your care"),
    t("Place {n} is held for you until {time}.", { n: flow.hold.number, time: timeOf(flow.hold.expires_at) })),
  h("p", { class: "muted" }, t("The person confirms the booking with OK on their own TV.")),
  list(care.map((p) => item(p.name, `${p.address} · ${p.birth_year}`,
    { onclick: () => fill(formBox, memberForm([], p)), attrs: { "data-care": p.id } })), t("Nobody in your care has a household here.")),
  formBox);
}

export async function confirm(root) {
  if (!flow.hold || !flow.member) { location.hash = "#booking"; return; }
  const s = flow.session; const m = flow.member;
  const button = h("button", { type: "button", class: "btn btn-primary p-wide p-big-btn", id: "p-book" }, t("Confirm booking"));
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const b = await api("/hospital/bookings", { method: "POST", body: {
        hold: flow.hold.token, household_id: m.household_id, patient_name: m.name, id_number: m.id_number, phone: m.phone,
      } });
      flow.hold = null;
      location.hash = `#booking-detail/${b.id}`;
    } finally { button.disabled = false; }
  });
  fill(root, heading(t("Check and confirm")),
    h("div", { class: "p-facts p-facts-first" },
      fact(t("Doctor"), `${s.doctor_name} · ${s.doctor_title}`, "p-fact-first"),
      fact(t("Day"), `${formatDay(s.day)} ${periodText(s.period)}`, "p-fact-first"),
      fact(t("Place"), flow.hold.number + " · " + t("arrive at {time}", { time: timeOf(flow.hold.arrival_at) }), "p-fact-first"),
      fact(t("Patient"), `${m.name} · ${maskId(m.id_number)} · ${m.phone}`, "p-fact-first")),
    button);
}

export async function bookingDetail(root, [id], state) {
  const b = await api(`/hospital/bookings/${id}`);
  if (!state.current()) return;
  const live = b.state === "booked" || b.state === "pending";
  const cancel = h("button", { type: "button", class: "btn btn-danger", id: "p-cancel" }, t("Cancel this booking"));
  const sure = h("div", { class: "p-confirm", hidden: true, id: "p-cancel-confirm" },
    h("p", {}, t("Number {serial} for {name} on {day} is given back.", { serial: b.serial, name: b.patient_name, day: formatDay(b.day) })),
    h("button", { type: "button", class: "btn btn-danger", id: "p-cancel-yes", onclick: async () => {
      await api(`/hospital/bookings/${b.id}/cancel`, { method: "POST" });
      toast(t("The booking is cancelled."), "ok");
      state.rerender();
    } }, t("Yes, cancel")), " ",
    h("button", { type: "button", class: "btn", onclick: () => { sure.hidden = true; cancel.hidden = false; } }, t("Keep it")));
  cancel.addEventListener("click", () => { sure.hidden = false; cancel.hidden = true; });
  fill(root, heading(t("Booking"), `${b.hospital_name} · ${b.department_name}`),
    h("div", { class: "p-serial", id: "p-serial" }, h("span", {}, t("Your number")), h("b", {}, b.serial),
      h("small", {}, stateText(b.state))),
    h("div", { class: "p-facts" },
      fact(t("Arrive at"), `${formatDay(b.day)} ${timeOf(b.arrival_at)}`, "p-fact-first"),
      fact(t("Doctor"), b.doctor_name, "p-fact-first"),
      fact(t("Patient"), `${b.patient_name} · ${b.id_masked}`, "p-fact-first"),
      fact(t("Reference"), b.reference)),
    b.state === "pending" && me && me.household_id ? h("button", { type: "button", class: "btn btn-primary", onclick: async () => {
      await api(`/hospital/bookings/${b.id}/confirm`, { method: "POST" }); state.rerender();
    } }, t("Confirm")) : null,
    live ? h("p", { class: "muted" }, t("You can cancel until {time}.", { time: formatDateTime(b.cancel_until) })) : null,
    live ? cancel : null, live ? sure : null, bookingLinks());
}

export async function bookings(root, _params, state) {
  const [bs, msgs] = await Promise.all([api("/hospital/bookings"), api("/hospital/messages")]);
  if (!state.current()) return;
  fill(root, heading(t("My bookings")),
    list(bs.map((b) => item(`${b.serial} · ${b.patient_name} · ${b.department_name}`,
      `${formatDay(b.day)} ${timeOf(b.arrival_at)} · ${b.hospital_name}`,
      { href: `#booking-detail/${b.id}`, right: stateText(b.state), attrs: { "data-booking": b.id, "data-state": b.state } })),
    t("No bookings yet.")),
    h("h2", { class: "p-h2" }, t("Messages from the hospital")),
    list(msgs.map((m) => item(name(m, "title"), name(m, "body"), {
      right: m.read_at ? "" : t("Unread"), cls: m.read_at ? "" : "p-unread",
      onclick: async (e) => {
        if (m.read_at) return;
        await api(`/hospital/messages/${m.id}/read`, { method: "POST" });
        e.currentTarget.classList.remove("p-unread");
        e.currentTarget.querySelector(".p-item-right")?.remove();
      },
    })), t("No messages.")));
}

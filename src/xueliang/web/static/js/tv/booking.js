// Hospital booking on the TV (data: /api/v1/hospital, docs/hospital-api.md), one screen per step so
// Back always returns one step: hospital -> department -> doctor and session -> place (held for 5
// minutes while the form is filled) -> household member -> confirm -> the serial number shown large.
// "My bookings" lists the household's bookings; OK on one offers to cancel it (until 17:00 the day
// before), and a grid worker's booking waiting for the household is confirmed there with OK.
//
// Household members are entered once (name, ID number, phone) and remembered on this TV only (the
// household's own set-top box; localStorage), so the next booking is a matter of OK. Classic ES2015.
(function () {
  "use strict";

  var TV = window.XLTV;
  var h = TV.h;
  var fill = TV.fill;
  var t = TV.t;
  var $ = TV.$;
  var api = TV.api;
  var name = TV.localName;
  var nav = null;
  var MEMBERS_KEY = "xl-tv-members-" + ((TV.me && TV.me.id) || 0);
  var flow = { hospital: null, department: null, session: null, hold: null, member: null };
  var el = {};

  function screenEl(id, title) {
    var s = h("section", { id: "screen-" + id, class: "screen", "aria-label": title, hidden: true }, h("h1", { class: "tv-h1" }, title));
    $("#tv-main").appendChild(s);
    return s;
  }
  function row(main, sub, right, onOk, attrs) {
    var a = { type: "button", class: "tv-row", "data-nav": true, onclick: onOk };
    Object.keys(attrs || {}).forEach(function (k) { a[k] = attrs[k]; });
    return h("button", a, right ? h("span", { class: "row-right" }, right) : null,
      h("span", { class: "row-main" }, main), sub ? h("span", { class: "row-sub" }, sub) : null);
  }
  function empty(text) { return h("p", { class: "tv-empty" }, text); }
  function loading() { return h("p", { class: "tv-empty" }, t("Loading…")); }
  function periodText(p) { return p === "morning" ? t("Morning") : t("Afternoon"); }
  function timeOf(iso) { return TV.formatClock(new Date(iso)); }

  function stateText(s) {
    return { pending: t("Waiting for your OK"), booked: t("Booked"), cancelled: t("Cancelled"), attended: t("Attended"),
      no_show: t("Missed"), moved: t("Moved") }[s] || s;
  }

  function loadMembers() {
    try { return JSON.parse(localStorage.getItem(MEMBERS_KEY) || "[]"); } catch (e) { return []; }
  }
  function saveMembers(list) {
    try { localStorage.setItem(MEMBERS_KEY, JSON.stringify(list)); } catch (e) { /* storage off: enter again next time */ }
  }
  function maskId(id) { return id.length > 7 ? id.slice(0, 3) + "***********".slice(0, id.length - 7) + id.slice(-4) : id; }

  // ------------------------------------------------------------------------------------------- steps

  function enterHospitals() {
    var list = $(".tv-list", el.hospitals);
    fill(list, loading());
    return api("/hospital/hospitals").then(function (hs) {
      fill(list, row(t("My bookings"), t("See or cancel your household's bookings"), null, function () { nav.go("bookings"); }, { id: "my-bookings" }),
        hs.map(function (x) {
          return row(name(x), x.address + " · " + x.phone, null, function () { flow.hospital = x; nav.go("booking-departments"); }, { "data-hospital-id": x.id });
        }));
    });
  }

  function enterDepartments() {
    $("h1", el.departments).textContent = name(flow.hospital);
    var list = $(".tv-list", el.departments);
    fill(list, loading());
    return api("/hospital/hospitals/" + flow.hospital.id + "/departments").then(function (ds) {
      fill(list, ds.map(function (d) {
        return row(name(d), d.location, null, function () { flow.department = d; nav.go("booking-sessions"); }, { "data-department-id": d.id });
      }));
    });
  }

  function enterSessions() {
    $("h1", el.sessions).textContent = name(flow.hospital) + " · " + name(flow.department);
    var list = $(".tv-list", el.sessions);
    fill(list, loading());
    return api("/hospital/departments/" + flow.department.id + "/sessions").then(function (ss) {
      fill(list, ss.length ? ss.map(function (s) {
        var right = s.bookable ? t("{n} free", { n: s.free }) : s.reason || t("Not bookable");
        return row(TV.formatDay(s.day) + " " + periodText(s.period) + " · " + s.doctor_name, s.doctor_title, right,
          function () {
            if (!s.bookable || !s.free) { TV.openModal(t("Not bookable"), s.reason || t("No places left in this session.")); return; }
            flow.session = s;
            nav.go("booking-places");
          }, { "data-session-id": s.id, "aria-disabled": s.bookable && s.free ? null : "true" });
      }) : empty(t("No sessions in the next days.")));
    });
  }

  function enterPlaces() {
    var s = flow.session;
    $("h1", el.places).textContent = TV.formatDay(s.day) + " " + periodText(s.period) + " · " + s.doctor_name;
    var grid = $(".tv-places", el.places);
    fill(grid, loading());
    return api("/hospital/sessions/" + s.id).then(function (full) {
      fill(grid, full.places.map(function (p) {
        return h("button", { type: "button", class: "tv-place", "data-nav": p.free ? true : null, disabled: !p.free, "data-number": p.number,
          onclick: function () { hold(p.number); } }, h("b", {}, String(p.number)), h("span", {}, timeOf(p.arrival_at)));
      }));
    });
  }

  function hold(number) {
    api("/hospital/holds", { method: "POST", body: { session_id: flow.session.id, number: number } }).then(function (hd) {
      flow.hold = hd;
      nav.go("booking-member");
    }, function () { return enterPlaces(); });
  }

  function releaseHold() {
    if (flow.hold) api("/hospital/holds/" + flow.hold.token, { method: "DELETE", quiet: true }).catch(function () { return null; });
    flow.hold = null;
  }

  function enterMember() {
    $(".tv-note", el.member).textContent = t("Place {n} is held for you until {time}.", { n: flow.hold.number, time: timeOf(flow.hold.expires_at) });
    var list = $(".tv-list", el.member);
    var members = loadMembers();
    fill(list, members.map(function (m, i) {
      return row(m.name, maskId(m.id_number) + " · " + m.phone, null, function () { flow.member = m; nav.go("booking-confirm"); }, { "data-member": i });
    }).concat([row(t("Add a household member"), t("Name, ID number and phone, entered once on this TV"), null, function () { nav.go("booking-form"); }, { id: "member-add" })]));
  }

  function field(id, label, attrs) {
    var a = { id: id, class: "tv-input", "data-nav": true, autocomplete: "off" };
    Object.keys(attrs || {}).forEach(function (k) { a[k] = attrs[k]; });
    return h("label", { class: "tv-field" }, h("span", {}, label), h("input", a));
  }

  function enterForm() {
    var form = $(".tv-form", el.form);
    fill(form,
      field("member-name", t("Name"), { maxlength: 40 }),
      field("member-id", t("ID number (X: the yellow key)"), { maxlength: 18, inputmode: "numeric" }),
      field("member-phone", t("Mobile phone"), { maxlength: 11, inputmode: "numeric" }),
      h("p", { class: "tv-note", id: "member-error" }),
      h("button", { type: "button", class: "tv-btn tv-btn-primary tv-btn-big", "data-nav": true, id: "member-save", onclick: saveMember }, t("Save and continue")));
    return null;
  }

  function saveMember() {
    var m = { name: $("#member-name").value.trim(), id_number: $("#member-id").value.trim().toUpperCase(), phone: $("#member-phone").value.trim() };
    var err = $("#member-error");
    if (!m.name) { err.textContent = t("Please enter the name."); nav.focus($("#member-name")); return; }
    if (!/^1\d{10}$/.test(m.phone)) { err.textContent = t("Please enter an 11-digit mobile number."); nav.focus($("#member-phone")); return; }
    api("/hospital/id-check", { method: "POST", body: { id_number: m.id_number }, quiet: true }).then(function () {
      var list = loadMembers().filter(function (x) { return x.id_number !== m.id_number; });
      list.push(m);
      saveMembers(list);
      flow.member = m;
      nav.back();
      nav.go("booking-confirm");
    }, function (e) {
      err.textContent = e.message;
      nav.focus($("#member-id"));
    });
  }

  function enterConfirm() {
    var s = flow.session;
    var m = flow.member;
    fill($(".tv-detail", el.confirm),
      h("div", { class: "tv-facts-grid" },
        factBlock(t("Hospital"), name(flow.hospital) + "\n" + name(flow.department)),
        factBlock(t("Doctor"), s.doctor_name + " " + (s.doctor_title || "")),
        factBlock(t("Time"), TV.formatDay(s.day) + " " + periodText(s.period) + "\n" + t("Place {n}, arrive at {time}", { n: flow.hold.number, time: timeOf(flow.hold.arrival_at) })),
        factBlock(t("Patient"), m.name + "\n" + maskId(m.id_number) + "\n" + m.phone)),
      h("button", { type: "button", class: "tv-btn tv-btn-primary tv-btn-big", "data-nav": true, id: "booking-confirm", onclick: book }, t("Confirm the booking")));
    nav.focus($("#booking-confirm"));
  }

  function factBlock(title, text) {
    return h("div", { class: "tv-fact fact-first", "data-nav": true, tabindex: "-1" }, h("h3", {}, title), h("p", {}, text));
  }

  function book() {
    var m = flow.member;
    api("/hospital/bookings", { method: "POST", body: { hold: flow.hold.token, patient_name: m.name, id_number: m.id_number, phone: m.phone } })
      .then(function (b) {
        flow.hold = null;
        flow.booking = b;
        nav.go("booking-done");
      }, function () { return null; });
  }

  function bookingFacts(b) {
    return [
      h("div", { class: "tv-fact fact-first tv-serial", "data-nav": true, tabindex: "-1" }, h("h3", {}, t("Your number")),
        h("div", { class: "tv-big", id: "booking-serial" }, b.serial)),
      h("div", { class: "tv-facts-grid" },
        factBlock(t("Arrive at"), TV.formatDay(b.day) + " " + timeOf(b.arrival_at)),
        factBlock(t("Where"), b.hospital_name + "\n" + b.department_name + " · " + b.doctor_name),
        factBlock(t("Patient"), b.patient_name + "\n" + b.id_masked)),
      h("p", { class: "tv-note" }, t("Booking reference {ref} · cancel until {time}", { ref: b.reference, time: TV.formatDateTime(b.cancel_until) })),
    ];
  }

  function enterDone() {
    var b = flow.booking;
    fill($(".tv-detail", el.done), bookingFacts(b),
      h("button", { type: "button", class: "tv-btn tv-btn-primary", "data-nav": true, id: "booking-home", onclick: function () { nav.backTo("home"); } }, t("Back to home")));
    nav.focus($("#booking-home"));
  }

  function enterBookings() {
    var list = $(".tv-list", el.bookings);
    fill(list, loading());
    return api("/hospital/bookings").then(function (bs) {
      fill(list, bs.length ? bs.map(function (b) {
        return row(b.serial + " · " + b.patient_name + " · " + b.department_name, TV.formatDay(b.day) + " " + timeOf(b.arrival_at) + " · " + b.hospital_name,
          stateText(b.state), function () { nav.go("booking-detail", { id: b.id }); }, { "data-booking-id": b.id, "data-state": b.state });
      }) : empty(t("No bookings.")));
    });
  }

  function enterBooking(params) {
    var body = $(".tv-detail", el.booking);
    fill(body, loading());
    return api("/hospital/bookings/" + params.id).then(function (b) {
      $("h1", el.booking).textContent = stateText(b.state);
      var actions = h("div", { class: "tv-chips-row" });
      if (b.state === "pending") {
        actions.appendChild(h("button", { type: "button", class: "tv-btn tv-btn-primary", "data-nav": true, id: "booking-ok",
          onclick: function () { api("/hospital/bookings/" + b.id + "/confirm", { method: "POST" }).then(function () { enterBooking(params); }); } }, t("Confirm")));
      }
      if (b.state === "pending" || b.state === "booked") {
        actions.appendChild(h("button", { type: "button", class: "tv-btn tv-btn-danger", "data-nav": true, id: "booking-cancel",
          onclick: function () { askCancel(b, params); } }, t("Cancel the booking")));
      }
      fill(body, bookingFacts(b), actions);
      nav.focus($("#booking-ok") || $("#booking-cancel") || nav.first(body));
    });
  }

  function askCancel(b, params) {
    var box = $("#tv-confirm");
    $("#confirm-title").textContent = t("Cancel the booking?");
    $("#confirm-text").textContent = t("Number {serial} for {name} on {day} is given back.", { serial: b.serial, name: b.patient_name, day: TV.formatDay(b.day) });
    $("#confirm-yes").onclick = function () {
      nav.closeDialog(box);
      api("/hospital/bookings/" + b.id + "/cancel", { method: "POST" }).then(function () {
        TV.toast(t("The booking is cancelled."), "ok");
        return enterBooking(params);
      });
    };
    $("#confirm-no").onclick = function () { nav.closeDialog(box); };
    nav.openDialog(box, { focus: $("#confirm-no") });
  }

  // ------------------------------------------------------------------------- messages to the household

  var asking = null;
  var snoozeUntil = 0;

  /**
   * The hospital's messages (booked, reminder, moved, stopped, no-show...) appear on the screen and are
   * marked read; a grid worker's booking waiting for the household asks Confirm / Decline with OK.
   */
  function pollMessages() {
    if (asking || nav.dialogOpen() || Date.now() < snoozeUntil) return;
    api("/hospital/messages", { query: { unread: true }, quiet: true, redirect: false }).then(function (list) {
      var shown = 0;
      list.forEach(function (m) {
        if (m.kind !== "pending_confirm" && shown >= 3) return; // a few at a time; the rest at the next poll
        if (m.kind !== "pending_confirm") shown += 1;
        var text = TV.locale === "en" && m.title_en ? m.title_en : m.title;
        if (m.kind === "pending_confirm" && m.booking_id && !asking && !nav.dialogOpen()) {
          askPending(m);
          return;
        }
        if (m.kind === "pending_confirm") return; // asked after the current question
        TV.toast(text + (m.body ? ": " + (TV.locale === "en" && m.body_en ? m.body_en : m.body) : ""), "info", 12000);
        api("/hospital/messages/" + m.id + "/read", { method: "POST", quiet: true }).catch(function () { return null; });
      });
    }, function () { return null; });
  }

  function askPending(m) {
    asking = m;
    var box = $("#tv-confirm");
    $("#confirm-title").textContent = TV.locale === "en" && m.title_en ? m.title_en : m.title;
    $("#confirm-text").textContent = TV.locale === "en" && m.body_en ? m.body_en : m.body;
    var yes = $("#confirm-yes");
    var no = $("#confirm-no");
    var yesText = yes.textContent;
    var noText = no.textContent;
    yes.textContent = t("Confirm");
    no.textContent = t("Decline");
    yes.className = "tv-btn tv-btn-primary";
    function answer(action) {
      nav.closeDialog(box);
      yes.textContent = yesText;
      no.textContent = noText;
      yes.className = "tv-btn tv-btn-danger";
      api("/hospital/bookings/" + m.booking_id + "/" + action, { method: "POST" }).then(function (b) {
        TV.toast(action === "confirm" ? t("Booked: number {serial}.", { serial: b.serial }) : t("The booking is cancelled."), "ok", 8000);
      }, function () { return null; }).then(function () {
        return api("/hospital/messages/" + m.id + "/read", { method: "POST", quiet: true });
      }).catch(function () { return null; }).then(function () { asking = null; });
    }
    yes.onclick = function () { answer("confirm"); };
    no.onclick = function () { answer("decline"); };
    nav.openDialog(box, { focus: yes, onBack: function () {
      // Back: not now; the question comes again in five minutes (the booking waits for the answer).
      nav.closeDialog(box);
      yes.textContent = yesText;
      no.textContent = noText;
      yes.className = "tv-btn tv-btn-danger";
      asking = null;
      snoozeUntil = Date.now() + 5 * 60 * 1000;
    } });
  }

  // --------------------------------------------------------------------------------------------- setup

  var startPortal = TV.startPortal;
  TV.startPortal = function (theNav) {
    if (startPortal) startPortal(theNav);
    nav = theNav;
    function listScreen(key, id, title) {
      el[key] = screenEl(id, title);
      el[key].appendChild(h("div", { class: "tv-list tv-list-full", "data-nav-section": key }));
    }
    function detailScreen(key, id, title) {
      el[key] = screenEl(id, title);
      el[key].appendChild(h("div", { class: "tv-detail" }));
    }
    listScreen("hospitals", "booking", t("Hospital booking"));
    listScreen("departments", "booking-departments", "");
    listScreen("sessions", "booking-sessions", "");
    el.places = screenEl("booking-places", "");
    el.places.appendChild(h("p", { class: "tv-note" }, t("Pick a place: each number has its own arrival time.")));
    el.places.appendChild(h("div", { class: "tv-places tv-list", "data-nav-section": "places" }));
    listScreen("member", "booking-member", t("Who is the appointment for?"));
    el.member.insertBefore(h("p", { class: "tv-note" }), $(".tv-list", el.member));
    el.form = screenEl("booking-form", t("Add a household member"));
    el.form.appendChild(h("div", { class: "tv-form tv-detail" }));
    detailScreen("confirm", "booking-confirm", t("Confirm the booking"));
    detailScreen("done", "booking-done", t("Booked"));
    listScreen("bookings", "bookings", t("My bookings"));
    detailScreen("booking", "booking-detail", "");

    nav.register("booking", { el: el.hospitals, enter: enterHospitals });
    nav.register("booking-departments", { el: el.departments, enter: enterDepartments });
    nav.register("booking-sessions", { el: el.sessions, enter: enterSessions });
    nav.register("booking-places", { el: el.places, enter: enterPlaces });
    nav.register("booking-member", { el: el.member, enter: enterMember,
      leave: function (back) { if (back) releaseHold(); } });
    nav.register("booking-form", { el: el.form, enter: enterForm, first: function () { return $("#member-name"); } });
    nav.register("booking-confirm", { el: el.confirm, enter: enterConfirm });
    nav.register("booking-done", { el: el.done, enter: enterDone,
      key: function (key) { if (key === "back") { nav.backTo("home"); return true; } return false; } });
    nav.register("bookings", { el: el.bookings, enter: enterBookings });
    nav.register("booking-detail", { el: el.booking, enter: enterBooking });
    TV.tiles.booking = function () { nav.go("booking"); };
    TV.pollHooks = (TV.pollHooks || []).concat([pollMessages]);
    TV.showBooking = function (id) { nav.go("booking-detail", { id: id }); };
  };
}());

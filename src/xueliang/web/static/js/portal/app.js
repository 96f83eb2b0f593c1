// The service portal on the phone (/m/portal) and the PC (/portal): one app, the layout is the page's.
// Sections are hash routes ("#service/12"), so Back walks back through them and a link can be shared;
// each route renders into <main id="portal">. The banner poll (/portal/banner, every 15 s) shows
// unread urgent notices on top and the unread counts on the notices and prices tabs.

import { api, wireCommon } from "../api.js";
import { $, $$, h } from "../dom.js";
import { t } from "../i18n.js";
import * as booking from "./booking.js";
import { fill } from "./common.js";
import * as content from "./content.js";
import * as prices from "./prices.js";

const ROUTES = {
  services: [content.services, "services"],
  "services-of": [content.servicesOf, "directory"],
  service: [content.service, "services"],
  search: [content.search, "services"],
  jobs: [content.jobs, "jobs"],
  job: [content.job, "jobs"],
  directory: [content.directory, "directory"],
  department: [content.department, "directory"],
  notices: [content.notices, "notices"],
  notice: [content.notice, "notices"],
  prices: [prices.prices, "prices"],
  price: [prices.price, "prices"],
  booking: [booking.hospitals, "booking"],
  "booking-hospital": [booking.departments, "booking"],
  "booking-dept": [booking.sessions, "booking"],
  "booking-session": [booking.places, "booking"],
  "booking-member": [booking.member, "booking"],
  "booking-confirm": [booking.confirm, "booking"],
  "booking-detail": [booking.bookingDetail, "booking"],
  bookings: [booking.bookings, "booking"],
};

const root = $("#portal");
let seq = 0;

async function refreshBanner() {
  let banner;
  try {
    banner = await api("/portal/banner", { quiet: true });
  } catch {
    return; // offline for a moment: the next poll tries again
  }
  const count = $("#p-notices-count");
  count.textContent = String(banner.notices_unread);
  count.hidden = !banner.notices_unread;
  const alerts = $("#p-prices-count");
  alerts.textContent = String(banner.price_alerts_unread);
  alerts.hidden = !banner.price_alerts_unread;
  const box = $("#p-urgent");
  fill(box, ...banner.urgent.map((n) => h("a", { class: "p-urgent-line", href: `#notice/${n.id}` },
    h("strong", {}, t("Urgent")), " ", n.title)));
  box.hidden = !banner.urgent.length;
}

async function render() {
  const [route, ...params] = (location.hash.slice(1) || "services").split("/");
  const [view, section] = ROUTES[route] || ROUTES.services;
  for (const a of $$("#p-nav a")) {
    const on = a.dataset.section === section;
    a.classList.toggle("active", on);
    if (on) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  seq += 1;
  const mine = seq;
  const state = { current: () => mine === seq, rerender: render, refreshBanner };
  document.body.dataset.route = route;
  try {
    await view(root, params, state);
    if (mine === seq) {
      root.dataset.ready = route;
      window.scrollTo(0, 0);
    }
  } catch (err) {
    // api() has shown the error already; say so in place of the page.
    if (mine === seq) fill(root, h("p", { class: "empty" }, err.message || t("Something went wrong.")));
  }
}

wireCommon();
window.addEventListener("hashchange", render);
render();
refreshBanner();

/** Push (/portal/events) re-reads the banner the moment a notice lands; the 15 s poll stays only where
 * the stream cannot open or the server ended it (`bye`), and a slow one catches what no nudge said. */
let pollTimer = setInterval(refreshBanner, 15000);
if (typeof EventSource === "function") {
  const es = new EventSource("/api/v1/portal/events");
  clearInterval(pollTimer);
  pollTimer = setInterval(refreshBanner, 120000);
  for (const kind of ["hello", "notices", "mine"]) es.addEventListener(kind, refreshBanner);
  // the hospital's messages are shown on the bookings screen: re-render it when one arrives
  es.addEventListener("messages", () => { if (location.hash.startsWith("#bookings")) render(); });
  const fallBack = () => {
    clearInterval(pollTimer);
    pollTimer = setInterval(refreshBanner, 15000);
  };
  es.addEventListener("bye", () => { es.close(); fallBack(); });
  es.onerror = () => { if (es.readyState === EventSource.CLOSED) fallBack(); };
}

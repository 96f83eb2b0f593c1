// Government services by life event (detail with "before you start" first), search by full pinyin,
// initials or Chinese (/portal/search, the index the TV's T9 uses), jobs filtered by city and type, the
// department directory with tap-to-call numbers, and notices (urgent first; opening one marks it read).

import { api } from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import {
  JOB_TYPES, chip, fact, fill, formatDay, heading, item, jobTypeText, list, name, salaryText, telLink,
} from "./common.js";

let categories = null;

async function loadCategories() {
  if (!categories) categories = await api("/portal/categories");
  return categories;
}

function categoryLabel(code) {
  const c = (categories || []).find((x) => x.code === code);
  return c ? name(c) : code;
}

function searchForm(value = "") {
  const input = h("input", {
    type: "search", class: "field p-search", name: "q", id: "p-q", value, autocomplete: "off", enterkeyhint: "search",
    placeholder: t("Search: pinyin, initials or Chinese"), "aria-label": t("Search: pinyin, initials or Chinese"),
  });
  const form = h("form", { class: "p-search-form", role: "search" }, input,
    h("button", { type: "submit", class: "btn btn-primary" }, t("Search")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const q = input.value.trim();
    if (q) location.hash = `#search/${encodeURIComponent(q)}`;
  });
  return form;
}

export async function services(root, params, state) {
  const cats = await loadCategories();
  const category = params[0] || "";
  const out = await api("/portal/services", { query: { category, limit: 200 } });
  if (!state.current()) return;
  fill(root, 
    heading(t("Government services"), t("Find a service by life event, or search.")),
    searchForm(),
    h("div", { class: "p-chips", role: "group", "aria-label": t("Life events") },
      chip(t("All"), !category, () => { location.hash = "#services"; }, { "data-category": "" }),
      cats.map((c) => chip(`${name(c)} ${c.count}`, category === c.code,
        () => { location.hash = `#services/${c.code}`; }, { "data-category": c.code }))),
    list(out.items.map((s) => item(name(s, "title"), name(s, "department"), { href: `#service/${s.id}`, attrs: { "data-service-id": s.id } })),
      t("No services here yet.")));
}

export async function service(root, [id]) {
  await loadCategories();
  const s = await api(`/portal/services/${id}`);
  const where = [s.where, s.when].filter(Boolean).join("\n");
  fill(root, 
    heading(name(s, "title"), [name(s, "department"), s.categories.map(categoryLabel).join(" / ")].filter(Boolean).join(" · ")),
    h("h2", { class: "p-h2" }, t("Before you start")),
    h("div", { class: "p-facts p-facts-first" },
      fact(t("Who can apply"), s.conditions, "p-fact-first"),
      fact(t("Bring these"), s.materials, "p-fact-first"),
      fact(t("Where and when"), where, "p-fact-first"),
      fact(t("Time limit"), s.time_limit, "p-fact-first"),
      fact(t("Fees"), s.fees, "p-fact-first"),
      fact(t("Contact phone"), s.phone ? telLink(s.phone) : "", "p-fact-first")),
    fact(t("About this service"), s.summary),
    fact(t("Online"), s.online_url ? h("div", { class: "p-online" },
      h("img", { class: "p-qr", src: `/portal/qr.svg?text=${encodeURIComponent(s.online_url)}`, width: 132, height: 132,
        alt: t("QR code of the online link") }),
      h("div", {}, h("p", { class: "muted" }, t("Scan with your phone, or open the link:")),
        h("a", { href: s.online_url, target: "_blank", rel: "noopener noreferrer", id: "p-online-link" }, s.online_url))) : ""));
}

export async function search(root, [q = ""], state) {
  const text = decodeURIComponent(q);
  fill(root, heading(t("Search")), searchForm(text), h("p", { class: "empty" }, t("Loading…")));
  const out = await api("/portal/search", { query: { q: text, limit: 50 } });
  if (!state.current()) return;
  const kindText = (k) => ({ service: t("Service"), department: t("Department"), job: t("Job") }[k] || k);
  const href = (hit) => `#${hit.kind}/${hit.id}`;
  root.lastChild.replaceWith(list(out.items.map((hit) => item(name(hit, "title"),
    [kindText(hit.kind), hit.subtitle].filter(Boolean).join(" · "), { href: href(hit), attrs: { "data-hit": `${hit.kind}:${hit.id}` } })),
  t("Nothing found for {q}.", { q: text })));
  const input = root.querySelector("#p-q");
  if (input) input.focus();
}

export async function jobs(root, [city = "", type = ""], state) {
  const cityName = decodeURIComponent(city);
  const [cities, out] = await Promise.all([
    api("/portal/jobs/cities"),
    api("/portal/jobs", { query: { city: cityName, type, limit: 200 } }),
  ]);
  if (!state.current()) return;
  const go = (c, ty) => { location.hash = `#jobs/${encodeURIComponent(c)}/${ty}`; };
  fill(root, 
    heading(t("Jobs"), t("Postings from the cities our villagers work in; expired ones are gone.")),
    h("div", { class: "p-filter" }, h("span", { class: "p-filter-label" }, t("City")),
      h("div", { class: "p-chips" }, chip(t("All"), !cityName, () => go("", type), { "data-city": "" }),
        cities.map((c) => chip(`${c.city} ${c.count}`, c.city === cityName, () => go(c.city, type), { "data-city": c.city })))),
    h("div", { class: "p-filter" }, h("span", { class: "p-filter-label" }, t("Type")),
      h("div", { class: "p-chips" }, chip(t("All"), !type, () => go(cityName, ""), { "data-type": "" }),
        JOB_TYPES.map((ty) => chip(jobTypeText(ty), ty === type, () => go(cityName, ty), { "data-type": ty })))),
    list(out.items.map((j) => item(name(j, "title"), `${j.employer} · ${j.city} · ${jobTypeText(j.type)}`,
      { href: `#job/${j.id}`, right: salaryText(j) })), t("No jobs match.")));
}

export async function job(root, [id]) {
  const j = await api(`/portal/jobs/${id}`);
  fill(root, 
    heading(name(j, "title"), `${j.employer} · ${j.city}`),
    h("div", { class: "p-facts p-facts-first" },
      fact(t("Pay"), salaryText(j), "p-fact-first"),
      fact(t("Contact"), j.contact ? telLink(j.contact) : "", "p-fact-first"),
      fact(t("Type"), jobTypeText(j.type), "p-fact-first")),
    fact(t("Work hours"), j.work_hours),
    fact(t("Requirements"), j.requirements),
    fact(t("Posted"), `${formatDay(j.date_posted)} · ${t("valid until {day}", { day: formatDay(String(j.valid_through).slice(0, 10)) })}`));
}

export async function directory(root, [q = ""], state) {
  const text = decodeURIComponent(q);
  const out = await api("/portal/departments", { query: { q: text, limit: 200 } });
  if (!state.current()) return;
  const input = h("input", { type: "search", class: "field p-search", value: text, autocomplete: "off",
    placeholder: t("Department name"), "aria-label": t("Department name") });
  const form = h("form", { class: "p-search-form" }, input, h("button", { type: "submit", class: "btn" }, t("Search")));
  form.addEventListener("submit", (e) => { e.preventDefault(); location.hash = `#directory/${encodeURIComponent(input.value.trim())}`; });
  fill(root, 
    heading(t("Department phones"), t("Tap a number to call.")), form,
    out.items.length ? h("ul", { class: "p-list p-dir" }, out.items.map((d) => h("li", {},
      h("div", { class: "p-item p-dept" },
        h("a", { class: "p-item-main", href: `#department/${d.id}` }, name(d)),
        h("span", { class: "p-item-sub" }, d.hours),
        h("span", { class: "p-phones" }, d.phones.map((p) => telLink(p))))))) : h("p", { class: "empty" }, t("No departments match.")));
}

export async function department(root, [id]) {
  const d = await api(`/portal/departments/${id}`);
  fill(root, 
    heading(name(d)),
    h("div", { class: "p-facts p-facts-first" },
      fact(t("Phone numbers"), h("div", { class: "p-phones p-phones-big" }, d.phones.map((p) => telLink(p))), "p-fact-first"),
      fact(t("Address"), d.address, "p-fact-first"),
      fact(t("Opening hours"), d.hours, "p-fact-first")),
    fact(t("Duties"), name(d, "duties")),
    d.services ? h("p", {}, h("a", { href: `#services-of/${d.id}` }, t("{n} services of this department", { n: d.services }))) : null);
}

export async function servicesOf(root, [id]) {
  const [d, out] = await Promise.all([api(`/portal/departments/${id}`), api("/portal/services", { query: { department_id: id, limit: 200 } })]);
  fill(root, heading(name(d), t("Government services")),
    list(out.items.map((s) => item(name(s, "title"), "", { href: `#service/${s.id}` })), t("No services here yet.")));
}

export async function notices(root, _params, state) {
  const out = await api("/portal/notices", { query: { limit: 100 } });
  if (!state.current()) return;
  // Urgent ones on top (newest first within each group, as the API sorts).
  const sorted = [...out.items.filter((n) => n.urgent), ...out.items.filter((n) => !n.urgent)];
  fill(root, heading(t("Notices"), t("From the county, your township and your village.")),
    list(sorted.map((n) => item(name(n, "title"),
      `${n.publisher || n.region} · ${formatDay(String(n.published_at).slice(0, 10))}`,
      { href: `#notice/${n.id}`, right: n.urgent ? t("Urgent") : n.read ? "" : t("Unread"),
        cls: `${n.urgent ? "p-urgent-item" : ""} ${n.read ? "" : "p-unread"}`, attrs: { "data-notice-id": n.id } })),
    t("No notices.")));
}

export async function notice(root, [id], state) {
  const n = await api(`/portal/notices/${id}`);
  fill(root, 
    heading(name(n, "title"), `${n.region} · ${n.publisher} · ${formatDay(String(n.published_at).slice(0, 10))}`),
    n.urgent ? h("p", { class: "p-urgent-tag" }, t("Urgent")) : null,
    h("div", { class: "p-fact p-notice-body" }, h("p", {}, name(n, "body"))));
  if (!n.read) {
    await api(`/portal/notices/${id}/read`, { method: "POST", quiet: true });
    state.refreshBanner();
  }
}

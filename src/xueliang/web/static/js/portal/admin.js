// /portal-admin: per content type (services, jobs, departments, prices) a list with publish/unpublish,
// a create/edit form, bulk import of a CSV/JSON/JSON-LD file (the API checks every row first and writes
// nothing unless all are good; its per-line errors are listed here) and a preview in the TV's own
// style in a 1280x720 frame; notices published to an area with their read receipts. The server
// decides who may change what (an editor's departments, or the county); this page only asks.

import { api, can, toast, wireCommon } from "../api.js";
import { $, $$, debounce, h } from "../dom.js";
import { formatDateTime, t } from "../i18n.js";
import { fill, formatDay, jobTypeText, JOB_TYPES, money, name } from "./common.js";

const body = $("#pa-body");
let departments = null;
let categories = null;

async function lookups() {
  if (!departments) {
    const [ds, cs] = await Promise.all([api("/portal/departments", { query: { limit: 200, editable: true } }), api("/portal/categories")]);
    departments = ds.items;
    categories = cs;
  }
}

// ------------------------------------------------------------------------------------------ forms

const FIELDS = {
  services: () => [
    { key: "code", label: t("Code"), create: true, required: true },
    { key: "department_id", label: t("Department"), type: "select", create: false, num: true,
      options: departments.map((d) => [d.id, name(d)]) },
    { key: "title", label: t("Title"), required: true },
    { key: "title_en", label: t("Title (English)") },
    { key: "categories", label: t("Life events"), type: "checks", options: categories.map((c) => [c.code, name(c)]) },
    { key: "conditions", label: t("Who can apply"), type: "textarea" },
    { key: "materials", label: t("Bring these (one per line)"), type: "lines" },
    { key: "where", label: t("Where") },
    { key: "when", label: t("When") },
    { key: "time_limit", label: t("Time limit") },
    { key: "fees", label: t("Fees") },
    { key: "phone", label: t("Contact phone") },
    { key: "online_url", label: t("Online link") },
    { key: "summary", label: t("About this service"), type: "textarea" },
    { key: "published", label: t("Publish now"), type: "check", create: true },
  ],
  jobs: () => [
    { key: "title", label: t("Title"), required: true },
    { key: "title_en", label: t("Title (English)") },
    { key: "employer", label: t("Employer"), required: true },
    { key: "city", label: t("City"), required: true },
    { key: "type", label: t("Type"), type: "select", options: JOB_TYPES.map((x) => [x, jobTypeText(x)]) },
    { key: "salary_min", label: t("Pay from"), type: "number" },
    { key: "salary_max", label: t("Pay up to"), type: "number" },
    { key: "salary_unit", label: t("Pay per"), type: "select",
      options: [["MONTH", t("per month")], ["DAY", t("per day")], ["HOUR", t("per hour")]] },
    { key: "work_hours", label: t("Work hours") },
    { key: "requirements", label: t("Requirements"), type: "textarea" },
    { key: "contact", label: t("Contact") },
    { key: "date_posted", label: t("Posted"), type: "date", required: true },
    { key: "valid_through", label: t("Valid until"), type: "datetime", required: true },
    { key: "department_id", label: t("Department"), type: "select", create: true, num: true, blank: true,
      options: departments.map((d) => [d.id, name(d)]) },
    { key: "published", label: t("Publish now"), type: "check", create: true },
  ],
  departments: () => [
    { key: "code", label: t("Code"), create: true, required: true },
    { key: "name", label: t("Name"), required: true },
    { key: "name_en", label: t("Name (English)") },
    { key: "phones", label: t("Phone numbers (one per line)"), type: "lines" },
    { key: "address", label: t("Address") },
    { key: "hours", label: t("Opening hours") },
    { key: "duties", label: t("Duties"), type: "textarea" },
    { key: "duties_en", label: t("Duties (English)"), type: "textarea" },
  ],
};

/** "2026-12-31T09:00:00Z" -> the value of a datetime-local field in the browser's zone, and back. */
const toLocalInput = (iso) => {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
};

function control(f, value, creating) {
  const id = `pa-f-${f.key}`;
  if (f.type === "textarea" || f.type === "lines") {
    return h("textarea", { class: "field", id, name: f.key }, Array.isArray(value) ? value.join("\n") : value || "");
  }
  if (f.type === "select") {
    return h("select", { class: "field", id, name: f.key },
      f.blank ? h("option", { value: "" }, "—") : null,
      f.options.map(([v, label]) => h("option", { value: v, selected: String(v) === String(value ?? "") }, label)));
  }
  if (f.type === "checks") {
    const on = new Set(value || []);
    return h("div", { class: "p-chips", id }, f.options.map(([v, label]) => h("label", { class: "pa-check" },
      h("input", { type: "checkbox", name: f.key, value: v, checked: on.has(v) }), label)));
  }
  if (f.type === "check") {
    return h("label", { class: "pa-check" }, h("input", { type: "checkbox", id, name: f.key, checked: creating ? false : !!value }), f.label);
  }
  const type = { number: "number", date: "date", datetime: "datetime-local" }[f.type] || "text";
  const v = f.type === "datetime" && value ? toLocalInput(value) : value ?? "";
  return h("input", { class: "field", type, id, name: f.key, value: v, required: f.required && (creating || !f.create) });
}

function readForm(form, fields, creating) {
  const out = {};
  for (const f of fields) {
    if (f.create === true && !creating) continue;
    if (f.create === false && creating) { /* sent on create too */ }
    if (f.type === "checks") { out[f.key] = $$(`input[name="${f.key}"]:checked`, form).map((x) => x.value); continue; }
    const el = form.elements.namedItem(f.key);
    if (!el) continue;
    if (f.type === "check") { out[f.key] = el.checked; continue; }
    const raw = el.value.trim();
    if (f.type === "lines") out[f.key] = raw.split("\n").map((x) => x.trim()).filter(Boolean);
    else if (f.type === "number") out[f.key] = raw === "" ? null : Number(raw);
    else if (f.num) { if (raw !== "") out[f.key] = Number(raw); else if (creating) out[f.key] = null; }
    else if (f.type === "datetime") out[f.key] = raw ? new Date(raw).toISOString() : null;
    else out[f.key] = raw;
  }
  return out;
}

function editForm(kind, obj, onSaved) {
  const creating = !obj;
  const fields = FIELDS[kind]();
  const err = h("p", { class: "form-error", id: "pa-form-error", role: "alert" });
  const form = h("form", { class: "p-card pa-form", id: "pa-form" },
    h("h2", { class: "p-h2" }, creating ? t("Add new") : t("Edit: {title}", { title: obj.title || obj.name })),
    fields.filter((f) => !(f.create === true && !creating)).map((f) => (f.type === "check" ? control(f, obj && obj[f.key], creating)
      : [h("label", { class: "lbl", for: `pa-f-${f.key}` }, f.label), control(f, obj && obj[f.key], creating)])),
    err, h("button", { type: "submit", class: "btn btn-primary p-wide", id: "pa-save" }, t("Save")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = "";
    const data = readForm(form, fields, creating);
    const path = { services: "/portal/admin/services", jobs: "/portal/admin/jobs", departments: "/portal/admin/departments" }[kind];
    try {
      const saved = creating ? await api(path, { method: "POST", body: data, quiet: true })
        : await api(`${path}/${obj.id}`, { method: "PATCH", body: data, quiet: true });
      toast(t("Saved."), "ok");
      onSaved(saved);
    } catch (ex) {
      err.textContent = ex.message;
    }
  });
  return form;
}

// ------------------------------------------------------------------------------------------ import

const FORMATS = { services: ["csv", "json"], jobs: ["csv", "json", "jsonld"], departments: ["csv", "json"], prices: ["csv"] };

/** The file as the request body (the API reads it raw); api() only sends JSON, so fetch here. */
async function upload(kind, format, file) {
  const response = await fetch(`/api/v1/portal/admin/import/${kind}?format=${format}`, {
    method: "POST", credentials: "same-origin", body: file,
    headers: { "X-CSRF-Token": (window.XL && window.XL.csrf) || "", Accept: "application/json",
      "Content-Type": format === "csv" ? "text/csv" : format === "jsonld" ? "application/ld+json" : "application/json" },
  });
  let data = null;
  try { data = await response.json(); } catch { data = null; }
  return { ok: response.ok, status: response.status, data: data || {} };
}

function importCard(kind, onDone) {
  const file = h("input", { type: "file", class: "field", id: "pa-file", accept: ".csv,.json,.jsonld,text/csv,application/json" });
  const format = h("select", { class: "field", id: "pa-format" }, FORMATS[kind].map((f) => h("option", { value: f }, f.toUpperCase())));
  const result = h("div", { id: "pa-import-result", "aria-live": "polite" });
  file.addEventListener("change", () => {
    const n = (file.files[0] && file.files[0].name.toLowerCase()) || "";
    if (n.endsWith(".jsonld") && FORMATS[kind].includes("jsonld")) format.value = "jsonld";
    else if (n.endsWith(".json")) format.value = "json";
    else if (n.endsWith(".csv")) format.value = "csv";
  });
  const go = h("button", { type: "button", class: "btn btn-primary", id: "pa-import" }, t("Import"));
  go.addEventListener("click", async () => {
    if (!file.files[0]) { fill(result, h("p", { class: "form-error" }, t("Choose a file first."))); return; }
    go.disabled = true;
    try {
      const out = await upload(kind, format.value, file.files[0]);
      if (out.ok) {
        fill(result, h("p", { class: "pa-ok" }, t("Imported: {created} new, {updated} updated.",
          { created: out.data.created ?? 0, updated: out.data.updated ?? 0 })));
        onDone();
      } else {
        const errors = out.data.errors || [];
        fill(result, h("p", { class: "form-error" }, t("Nothing was imported: fix these lines and try again.")),
          errors.length ? h("ul", { class: "pa-errors" }, errors.map((e) => h("li", { "data-line": e.line },
            t("Line {line}: {message}", { line: e.line, message: e.message }))))
            : h("p", { class: "pa-errors" }, out.data.message || String(out.status)));
      }
    } finally { go.disabled = false; }
  });
  return h("section", { class: "p-card", id: "pa-import-card" }, h("h2", { class: "p-h2" }, t("Bulk import")),
    h("p", { class: "muted" }, t("Every row is checked first; nothing is written unless all rows are good.")),
    h("div", { class: "pa-toolbar" }, file, format, go), result);
}

// ------------------------------------------------------------------------------------------ preview

/** The TV page at its real 1280x720, scaled down to the card's width (the TV's rem follow the frame's width). */
function previewCard(kind, id) {
  const frame = h("iframe", {
    src: `/portal-admin/preview?kind=${kind}&id=${id}`, title: t("TV preview"), id: "pa-preview-frame", width: 1280, height: 720,
  });
  const wrap = h("div", { class: "pa-preview-wrap" }, frame);
  new ResizeObserver(() => {
    const scale = wrap.clientWidth / 1280;
    frame.style.transform = `scale(${scale})`;
    wrap.style.height = `${Math.round(720 * scale)}px`;
  }).observe(wrap);
  return h("section", { class: "p-card", id: "pa-preview" }, h("h2", { class: "p-h2" }, t("As the TV shows it")), wrap);
}

// ------------------------------------------------------------------------------------------ content lists

const LISTS = {
  services: {
    path: "/portal/admin/services", preview: "service",
    head: () => [t("Code"), t("Title"), t("Department"), t("State")],
    cells: (s) => [s.code, name(s, "title"), name(s, "department")],
    full: (s) => api(`/portal/services/${s.id}`),
    publishPath: (s) => `/portal/admin/services/${s.id}`,
  },
  jobs: {
    path: "/portal/admin/jobs", preview: "job",
    head: () => [t("Title"), t("Employer"), t("Valid until"), t("State")],
    cells: (j) => [name(j, "title"), `${j.employer} · ${j.city}`, formatDateTime(j.valid_through)],
    full: async (j) => j,
    publishPath: (j) => `/portal/admin/jobs/${j.id}`,
  },
  departments: {
    path: "/portal/departments", preview: "department",
    head: () => [t("Code"), t("Name"), t("Phone numbers")],
    cells: (d) => [d.code, name(d), d.phones.join(", ")],
    full: async (d) => d,
  },
};

async function contentTab(kind) {
  await lookups();
  const spec = LISTS[kind];
  const q = h("input", { type: "search", class: "field", id: "pa-q", placeholder: t("Search"), autocomplete: "off" });
  const state = kind === "departments" ? null : h("select", { class: "field", id: "pa-published" },
    h("option", { value: "" }, t("All")), h("option", { value: "true" }, t("Published")), h("option", { value: "false" }, t("Drafts")));
  const table = h("div", { id: "pa-list" });
  const side = h("div", { class: "pa-side", id: "pa-side" });
  const showSide = (...cards) => fill(side, importCard(kind, reload), cards);

  async function reload() {
    const out = await api(spec.path, { query: { q: q.value.trim(), published: state ? state.value : "", limit: 200 } });
    const rows = out.items.map((x) => {
      const acts = [h("button", { type: "button", class: "btn btn-sm", "data-edit": x.id, onclick: async () => {
        const obj = await spec.full(x);
        showSide(editForm(kind, obj, () => { reload(); showSide(previewCard(spec.preview, obj.id)); }));
      } }, t("Edit"))];
      if (spec.publishPath) {
        acts.push(h("button", { type: "button", class: `btn btn-sm ${x.published ? "btn-danger" : "btn-primary"}`,
          "data-publish": x.id, onclick: async () => {
            await api(`${spec.publishPath(x)}/${x.published ? "unpublish" : "publish"}`, { method: "POST" });
            toast(x.published ? t("Unpublished.") : t("Published."), "ok");
            reload();
          } }, x.published ? t("Unpublish") : t("Publish")));
      }
      acts.push(h("button", { type: "button", class: "btn btn-sm", "data-preview": x.id,
        onclick: () => showSide(previewCard(spec.preview, x.id)) }, t("Preview")));
      return h("tr", { "data-id": x.id, "data-code": x.code || "" }, spec.cells(x).map((c) => h("td", {}, c)),
        spec.publishPath ? h("td", {}, h("span", { class: `badge ${x.published ? "badge-ok" : ""}` }, x.published ? t("Published") : t("Draft"))) : null,
        h("td", { class: "act" }, acts));
    });
    fill(table, h("p", { class: "muted" }, t("{n} items", { n: out.total })),
      rows.length ? h("table", { class: "pa-table" }, h("thead", {}, h("tr", {}, spec.head().map((x) => h("th", {}, x)), h("th", {}))),
        h("tbody", {}, rows)) : h("p", { class: "empty" }, t("Nothing here yet.")));
  }
  q.addEventListener("input", debounce(reload, 300));
  if (state) state.addEventListener("change", reload);
  fill(body, h("div", { class: "pa-grid" },
    h("section", {}, h("div", { class: "pa-toolbar" }, q, state,
      h("button", { type: "button", class: "btn btn-primary", id: "pa-new", onclick: () => showSide(editForm(kind, null, (saved) => {
        reload(); showSide(previewCard(spec.preview, saved.id));
      })) }, t("Add new"))), table),
    side));
  showSide();
  await reload();
}

// ------------------------------------------------------------------------------------------ prices

async function pricesTab() {
  const [products, markets, day] = await Promise.all([
    api("/portal/prices/products"), api("/portal/prices/markets"), api("/portal/prices"),
  ]);
  // One form for a day's prices: a row per product, a box per market; empty boxes are left as they are.
  const when = h("input", { type: "date", class: "field", id: "pa-price-day", value: day.day || "" });
  const current = new Map(day.items.map((r) => [`${r.product_id}:${r.market_id}`, r.price]));
  const boxes = [];
  const rows = products.map((p) => h("tr", {}, h("th", { scope: "row" }, `${name(p)} (${p.unit})`),
    markets.map((m) => {
      const was = current.get(`${p.id}:${m.id}`);
      const box = h("input", { type: "number", class: "field pa-price-box", min: "0", step: "0.01",
        "data-product": p.id, "data-market": m.id, placeholder: was === undefined ? "" : money(was),
        "aria-label": `${name(p)} · ${name(m)}` });
      boxes.push(box);
      return h("td", {}, box);
    })));
  const form = h("form", { class: "p-card pa-form", id: "pa-prices-form" }, h("h2", { class: "p-h2" }, t("Publish prices")),
    h("label", { class: "lbl", for: "pa-price-day" }, t("Day")), when,
    h("table", { class: "pa-table pa-price-grid" },
      h("thead", {}, h("tr", {}, h("th", {}, t("Product")), markets.map((m) => h("th", { scope: "col" }, name(m))))),
      h("tbody", {}, rows)),
    h("button", { type: "submit", class: "btn btn-primary p-wide" }, t("Publish")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const items = boxes.filter((b) => b.value !== "").map((b) => ({
      product_id: Number(b.dataset.product), market_id: Number(b.dataset.market), price: Number(b.value) }));
    if (!items.length) {
      toast(t("Enter at least one price."), "error");
      return;
    }
    const out = await api("/portal/admin/prices", { method: "POST", body: { day: when.value, items } });
    toast(t("Published: {n} prices, {alerts} notices to subscribers.", { n: out.written, alerts: out.alerts }), "ok");
    pricesTab();
  });
  fill(body, h("div", { class: "pa-grid" },
    h("section", { class: "p-card" }, h("h2", { class: "p-h2" }, t("Prices of {day}", { day: formatDay(day.day) })),
      h("table", { class: "pa-table" }, h("thead", {}, h("tr", {}, [t("Product"), t("Market"), t("Price"), t("Change")].map((x) => h("th", {}, x)))),
        h("tbody", {}, day.items.map((r) => h("tr", {}, h("td", {}, name(r, "product")), h("td", {}, name(r, "market")),
          h("td", {}, `${money(r.price)}/${r.unit}`), h("td", {}, r.change === null ? "—" : `${r.change > 0 ? "+" : ""}${money(r.change)}`)))))),
    h("div", {}, importCard("prices", pricesTab), form)));
}

// ------------------------------------------------------------------------------------------ notices

async function noticesTab() {
  const [regions, managed] = await Promise.all([api("/regions"), api("/portal/notices/managed", { query: { limit: 100 } })]);
  const area = h("select", { class: "field", id: "pa-n-region" }, regions.filter((r) => r.in_scope && r.level !== "grid")
    .map((r) => h("option", { value: r.id }, name(r))));
  const title = h("input", { class: "field", id: "pa-n-title", required: true, maxlength: 200 });
  const titleEn = h("input", { class: "field", id: "pa-n-title-en", maxlength: 300 });
  const text = h("textarea", { class: "field", id: "pa-n-body", required: true });
  const textEn = h("textarea", { class: "field", id: "pa-n-body-en" });
  const urgent = h("input", { type: "checkbox", id: "pa-n-urgent" });
  const form = h("form", { class: "p-card pa-form", id: "pa-n-form" }, h("h2", { class: "p-h2" }, t("Publish a notice")),
    h("label", { class: "lbl", for: "pa-n-region" }, t("To the area")), area,
    h("label", { class: "lbl", for: "pa-n-title" }, t("Title")), title,
    h("label", { class: "lbl", for: "pa-n-title-en" }, t("Title (English)")), titleEn,
    h("label", { class: "lbl", for: "pa-n-body" }, t("Text")), text,
    h("label", { class: "lbl", for: "pa-n-body-en" }, t("Text (English)")), textEn,
    h("label", { class: "pa-check" }, urgent, t("Urgent: covers the TV until OK is pressed")),
    h("button", { type: "submit", class: "btn btn-primary p-wide" }, t("Publish")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    await api("/portal/notices", { method: "POST", body: { region_id: Number(area.value), urgent: urgent.checked,
      title: title.value.trim(), title_en: titleEn.value.trim(), body: text.value.trim(), body_en: textEn.value.trim() } });
    toast(t("Published."), "ok");
    noticesTab();
  });
  const reads = h("div", { id: "pa-reads" });
  async function showReads(n) {
    const out = await api(`/portal/notices/${n.id}/reads`);
    fill(reads, h("section", { class: "p-card" }, h("h2", { class: "p-h2" }, t("Read receipts: {title}", { title: n.title })),
      h("p", {}, t("{read} of {total} households have read it.", { read: out.households_read, total: out.households_total })),
      out.reads.length ? h("div", { class: "pa-reads" }, h("table", { class: "pa-table" },
        h("thead", {}, h("tr", {}, [t("Household"), t("Head of household"), t("Read by"), t("Read at")].map((x) => h("th", {}, x)))),
        h("tbody", {}, out.reads.map((r) => h("tr", {}, h("td", {}, r.household_code), h("td", {}, r.head_name),
          h("td", {}, r.username), h("td", {}, formatDateTime(r.read_at)))))))
        : h("p", { class: "empty" }, t("Nobody has read it yet."))));
  }
  fill(body, h("div", { class: "pa-grid" },
    h("section", { class: "p-card" }, h("h2", { class: "p-h2" }, t("Notices in your area")),
      managed.items.length ? h("table", { class: "pa-table", id: "pa-notices" },
        h("thead", {}, h("tr", {}, [t("Title"), t("Sent to"), t("Published"), t("Read"), ""].map((x) => h("th", {}, x)))),
        h("tbody", {}, managed.items.map((n) => h("tr", { "data-id": n.id },
          h("td", {}, n.urgent ? h("span", { class: "badge badge-danger" }, t("Urgent")) : null, " ", n.title,
            n.withdrawn ? h("span", { class: "badge" }, t("Withdrawn")) : null),
          h("td", {}, n.region), h("td", {}, formatDateTime(n.published_at)),
          h("td", {}, `${n.households_read} / ${n.households_total}`),
          h("td", { class: "act" }, h("button", { type: "button", class: "btn btn-sm", "data-reads": n.id, onclick: () => showReads(n) }, t("Who read it")),
            n.withdrawn ? null : h("button", { type: "button", class: "btn btn-sm btn-danger", onclick: async () => {
              await api(`/portal/notices/${n.id}/withdraw`, { method: "POST" }); noticesTab();
            } }, t("Withdraw")))))))
        : h("p", { class: "empty" }, t("No notices yet.")), reads),
    form));
}

// ------------------------------------------------------------------------------------------ tabs

const TABS = { services: () => contentTab("services"), jobs: () => contentTab("jobs"),
  departments: () => contentTab("departments"), prices: pricesTab, notices: noticesTab };

async function open(kind) {
  for (const b of $$("#pa-tabs [data-kind]")) b.setAttribute("aria-pressed", b.dataset.kind === kind ? "true" : "false");
  fill(body, h("p", { class: "empty" }, t("Loading…")));
  try {
    await TABS[kind]();
    body.dataset.ready = kind;
  } catch (err) {
    fill(body, h("p", { class: "empty" }, err.message || t("Something went wrong.")));
  }
}

wireCommon();
for (const b of $$("#pa-tabs [data-kind]")) b.addEventListener("click", () => { history.replaceState(null, "", `#${b.dataset.kind}`); open(b.dataset.kind); });
const kinds = $$("#pa-tabs [data-kind]").map((b) => b.dataset.kind);
const fromHash = () => {
  const wanted = location.hash.slice(1);
  open(kinds.includes(wanted) ? wanted : kinds[0]);
};
if (kinds.length) {
  window.addEventListener("hashchange", fromHash);
  fromHash();
} else {
  fill(body, h("p", { class: "empty" }, can("manage_portal") ? "" : t("Your role may not do this.")));
}

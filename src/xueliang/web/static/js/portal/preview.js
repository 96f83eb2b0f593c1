// The editors' TV preview (/portal-admin/preview?kind=service&id=12): one detail card in the TV's own
// markup and stylesheet, "before you start" first as on the TV (static/js/tv/portal.js), so a draft
// looks as it will on a 1280x720 set before it is published.

import { api } from "../api.js";
import { $, h } from "../dom.js";
import { t } from "../i18n.js";
import { fill, formatDay, jobTypeText, name, salaryText } from "./common.js";

function fact(title, body, cls = "") {
  if (body === null || body === undefined || body === "" || (Array.isArray(body) && !body.length)) return null;
  const content = Array.isArray(body) ? h("ul", {}, body.map((x) => h("li", {}, x))) : h("p", {}, String(body));
  return h("div", { class: `tv-fact ${cls}` }, h("h3", {}, title), content);
}

async function show() {
  const params = new URLSearchParams(location.search);
  const kind = params.get("kind");
  const id = Number(params.get("id"));
  const title = $("#preview-title");
  const body = $("#preview-body");
  if (kind === "service") {
    const s = await api(`/portal/services/${id}`);
    title.textContent = name(s, "title");
    fill(body,
      h("p", { class: "tv-note" }, name(s, "department") + (s.published ? "" : ` · ${t("Draft")}`)),
      h("div", { class: "tv-facts-grid" },
        fact(t("Who can apply"), s.conditions, "fact-first"),
        fact(t("Bring these"), s.materials, "fact-first"),
        fact(t("Where and when"), [s.where, s.when].filter(Boolean).join("\n"), "fact-first"),
        fact(t("Time limit"), s.time_limit, "fact-first"),
        fact(t("Fees"), s.fees, "fact-first"),
        fact(t("Contact phone"), s.phone, "fact-first")),
      fact(t("About this service"), s.summary),
      fact(t("Online"), s.online_url ? t("Open {url} on your phone (the phone page shows a QR code).", { url: s.online_url }) : ""));
  } else if (kind === "job") {
    const j = await api(`/portal/jobs/${id}`);
    title.textContent = name(j, "title");
    fill(body,
      h("div", { class: "tv-facts-grid" },
        fact(t("Employer"), `${j.employer} · ${j.city}`, "fact-first"),
        fact(t("Pay"), salaryText(j), "fact-first"),
        fact(t("Contact"), j.contact, "fact-first")),
      fact(t("Work hours"), j.work_hours),
      fact(t("Requirements"), j.requirements),
      fact(t("Type"), jobTypeText(j.type)),
      fact(t("Posted"), `${formatDay(j.date_posted)} · ${t("valid until {day}", { day: formatDay(String(j.valid_through).slice(0, 10)) })}`));
  } else if (kind === "department") {
    const d = await api(`/portal/departments/${id}`);
    title.textContent = name(d);
    fill(body,
      h("div", { class: "tv-fact fact-first" }, h("h3", {}, t("Phone numbers")),
        d.phones.map((p) => h("div", { class: "tv-big" }, p))),
      h("div", { class: "tv-facts-grid" }, fact(t("Address"), d.address), fact(t("Opening hours"), d.hours)),
      fact(t("Duties"), name(d, "duties")));
  }
  document.body.dataset.ready = "1";
}

show();

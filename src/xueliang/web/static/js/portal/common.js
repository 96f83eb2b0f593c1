// What the portal's views share on the phone, the PC and the admin pages: names in the page's language,
// money and price changes, job texts, and small DOM pieces (lists, facts, chips) built with h().

import { h } from "../dom.js";
import { locale, t } from "../i18n.js";

/** The English field where the page is in English and the content has one, else the Chinese. */
export function name(obj, field = "name") {
  if (!obj) return "";
  const en = obj[`${field}_en`];
  return locale === "en" && en ? en : obj[field] || "";
}

/** The page's half of a server text written "中文 / English" (the hospital's rule reasons). */
export function bilingual(text) {
  const parts = String(text || "").split(" / ");
  return parts.length === 2 ? parts[locale === "en" ? 1 : 0] : String(text || "");
}

export function money(x) { return x === null || x === undefined ? "—" : Number(x).toFixed(2); }

/** "▲ 0.20 (+5.0%)" with the class that colours it; "new" where there is no previous day. */
export function changeText(r) {
  if (r.change === null || r.change === undefined) return { text: t("new"), cls: "p-flat" };
  const pct = r.change_pct === null || r.change_pct === undefined
    ? "" : ` (${r.change_pct > 0 ? "+" : ""}${Number(r.change_pct).toFixed(1)}%)`;
  if (r.change > 0) return { text: `▲ ${money(r.change)}${pct}`, cls: "p-up" };
  if (r.change < 0) return { text: `▼ ${money(-r.change)}${pct}`, cls: "p-down" };
  return { text: `= ${money(0)}`, cls: "p-flat" };
}

export const JOB_TYPES = ["FULL_TIME", "PART_TIME", "TEMPORARY", "SEASONAL", "CONTRACTOR"];

export function jobTypeText(type) {
  return { FULL_TIME: t("Full time"), PART_TIME: t("Part time"), TEMPORARY: t("Temporary"), SEASONAL: t("Seasonal"),
    CONTRACTOR: t("Contract") }[type] || type;
}

export function salaryText(j) {
  const unit = { MONTH: t("per month"), DAY: t("per day"), HOUR: t("per hour") }[j.salary_unit] || "";
  if (j.salary_min === null && j.salary_max === null) return "";
  const range = j.salary_min === j.salary_max || j.salary_max === null ? String(j.salary_min) : `${j.salary_min}–${j.salary_max}`;
  return t("{range} yuan {unit}", { range, unit });
}

/** "2026-12-07" as a local date without time-zone shifts (the API's days are local days already). */
export function formatDay(day) {
  const [y, m, d] = String(day || "").split("-");
  if (!d) return String(day || "");
  return locale === "en" ? `${d}/${m}/${y}` : `${y}年${Number(m)}月${Number(d)}日`;
}

export function heading(title, sub) {
  return h("div", { class: "p-head" }, h("h1", {}, title), sub ? h("p", { class: "p-sub" }, sub) : null);
}

/** A tappable row of a list: a link to a hash route, or a button with a handler. */
export function item(main, sub, { href, onclick, right, cls = "", attrs = {} } = {}) {
  const body = [
    right !== undefined && right !== null && right !== "" ? h("span", { class: "p-item-right" }, right) : null,
    h("span", { class: "p-item-main" }, main),
    sub ? h("span", { class: "p-item-sub" }, sub) : null,
  ];
  const el = href
    ? h("a", { class: `p-item ${cls}`, href, ...attrs }, body)
    : h("button", { type: "button", class: `p-item ${cls}`, onclick, ...attrs }, body);
  return h("li", {}, el);
}

export function list(items, emptyText) {
  return items.length ? h("ul", { class: "p-list" }, items) : h("p", { class: "empty" }, emptyText);
}

/** One block of a detail page; nothing for an empty value. */
export function fact(title, body, cls = "") {
  if (body === null || body === undefined || body === "" || (Array.isArray(body) && !body.length)) return null;
  const content = body instanceof Node ? body
    : Array.isArray(body) ? h("ul", {}, body.map((x) => h("li", {}, x))) : h("p", {}, String(body));
  return h("div", { class: `p-fact ${cls}` }, h("h3", {}, title), content);
}

export function chip(label, pressed, onclick, attrs = {}) {
  return h("button", { type: "button", class: "p-chip", "aria-pressed": pressed ? "true" : "false", onclick, ...attrs }, label);
}

/** A tel: link for a phone number text ("0837-7421234", "0837-7421234 转 8001"): the leading number's
 * digits (and +) in the href, the text as written. */
export function telLink(phone, cls = "p-tel") {
  const lead = (String(phone).match(/[+\d][\d\s()-]*/) || [""])[0];
  const href = `tel:${lead.replace(/[^0-9+]/g, "")}`;
  return h("a", { class: cls, href }, phone);
}

export function loading() { return h("p", { class: "empty" }, t("Loading…")); }

/** Replaces the children of `el` (null, false and nested arrays are skipped, as h() does). */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

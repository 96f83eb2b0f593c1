// Translations for the ES modules. The server puts the catalog of the page's language in
// window.XL.messages (msgid -> msgstr); msgids are the English text, so a missing entry shows English.
// Extract with `pybabel extract -F babel.cfg -k t ...` (see babel.cfg): only string literals passed to
// t() are found, so never build a msgid at run time.

const XL = window.XL || {};
const messages = XL.messages || {};

export const locale = XL.locale || "zh_CN";
export const timezone = XL.timezone || "Asia/Shanghai";
const intlLocale = locale === "en" ? "en-GB" : "zh-CN";

/** Translate `msgid`; `{name}` placeholders are filled from `params`. */
export function t(msgid, params) {
  let text = messages[msgid] || msgid;
  if (params) {
    text = text.replace(/\{(\w+)\}/g, (whole, key) => (key in params ? String(params[key]) : whole));
  }
  return text;
}

/** The name of a region, camera or place in the page's language (Chinese name as the fallback). */
export function localName(obj) {
  if (!obj) return "";
  return locale === "en" && obj.name_en ? obj.name_en : obj.name;
}

const dateTime = new Intl.DateTimeFormat(intlLocale, {
  timeZone: timezone, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
});
const clock = new Intl.DateTimeFormat(intlLocale, { timeZone: timezone, hour: "2-digit", minute: "2-digit", hour12: false });
const longDate = new Intl.DateTimeFormat(intlLocale, { timeZone: timezone, month: "long", day: "numeric", weekday: "long" });

/** A UTC ISO timestamp from the API, shown in the platform's time zone. */
export function formatDateTime(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : dateTime.format(d);
}
export function formatClock(d = new Date()) { return clock.format(d); }
export function formatDate(d = new Date()) { return longDate.format(d); }

export function kindLabel(kind) {
  return {
    key_place: t("Key place"),
    intersection: t("Intersection"),
    settlement: t("Settlement"),
  }[kind] || kind;
}

export function roleLabel(role) {
  return {
    admin: t("County admin"),
    operator: t("Police station operator"),
    duty_officer: t("Village duty officer"),
    grid_worker: t("Grid worker"),
    volunteer: t("Volunteer"),
    resident: t("Resident"),
    auditor: t("Auditor"),
    portal_editor: t("Portal editor"),
    hospital_staff: t("Hospital staff"),
  }[role] || role;
}

export function levelLabel(level) {
  return {
    province: t("Province"),
    county: t("County"),
    township: t("Township"),
    village: t("Village"),
    grid: t("Grid"),
  }[level] || level;
}

export function yesNo(value) { return value ? t("Yes") : t("No"); }

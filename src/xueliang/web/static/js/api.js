// fetch wrapper for /api/v1: sends the CSRF token on state-changing requests, turns the server's
// {code, message} answers into ApiError, and shows them to the user (translated where we know the code).

import { t } from "./i18n.js";
import { h } from "./dom.js";

const XL = window.XL || {};
let csrf = XL.csrf || "";

export function setCsrf(token) { csrf = token || ""; XL.csrf = csrf; }
export const me = XL.me || null;
export const permissions = new Set((me && me.permissions) || []);
export const can = (action) => permissions.has(action);

export class ApiError extends Error {
  constructor(status, code, message, detail) {
    super(message);
    this.status = status;
    this.code = code;
    this.detail = detail || "";
  }
}

// Domains' own words for their catalogued refusals (an answer's `key` and `params`, e.g. grid/errors.js):
// each is fn(body) -> text, or "" where the key is not its own.
const catalogues = [];
export function addErrorTexts(fn) { catalogues.push(fn); }
function catalogued(body) {
  for (const fn of catalogues) {
    const text = body && body.key ? fn(body) : "";
    if (text) return text;
  }
  return "";
}

/** A message for the user: our own words for the codes we know, the server's detail for the rest. */
function describe(status, code, serverMessage) {
  const known = {
    bad_credentials: t("Wrong username or password."),
    login_locked: t("Too many failed attempts. Please wait a few minutes and try again."),
    too_many_requests: t("Too many requests. Please wait a moment and try again."),
    not_logged_in: t("Your session has ended. Please log in again."),
    csrf: t("Your session has expired. Reload the page and try again."),
    forbidden: t("Your role may not do this."),
    not_found: t("Not found, or outside your area."),
    network: t("Cannot reach the server. Check the network and try again."),
  }[code];
  if (known) return known;
  if (code === "invalid") return t("Please check the input: {detail}", { detail: serverMessage });
  if (code === "conflict") return t("Already exists: {detail}", { detail: serverMessage });
  return t("Something went wrong ({status}): {detail}", { status, detail: serverMessage || code });
}

export function terminal() { return document.body.dataset.terminal || "console"; }

export function loginUrl(next = location.pathname) {
  return `/login?terminal=${encodeURIComponent(terminal())}&next=${encodeURIComponent(next)}`;
}

/**
 * api("/cameras", {query: {kind: "intersection"}}) -> parsed JSON (null for 204).
 * Options: method, body (sent as JSON), query (empty values dropped), quiet (do not show the error).
 */
export async function api(path, { method = "GET", body, query, quiet = false, redirect = true } = {}) {
  const url = new URL(`/api/v1${path}`, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== "" && value !== null && value !== undefined) url.searchParams.set(key, String(value));
  }
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrf;
  let response;
  try {
    response = await fetch(url, {
      method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (cause) {
    const err = new ApiError(0, "network", describe(0, "network", String(cause)));
    if (!quiet) showError(err);
    throw err;
  }
  if (response.status === 204) return null;
  let data = null;
  try { data = await response.json(); } catch { data = null; }
  if (!response.ok) {
    const code = (data && data.code) || "http_error";
    const err = new ApiError(response.status, code,
      catalogued(data) || describe(response.status, code, data && data.message), data && data.message);
    if (data && data.key) { err.key = data.key; err.params = data.params || {}; }
    if (code === "not_logged_in" && redirect) {
      location.assign(loginUrl());
    } else if (!quiet) {
      showError(err);
    }
    throw err;
  }
  return data;
}

function toastBox() {
  let box = document.querySelector(".toasts");
  if (!box) {
    box = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(box);
  }
  return box;
}

/** A short message in the corner; kind is "info", "ok" or "error". */
export function toast(message, kind = "info", ms = 4500) {
  const el = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : null }, message);
  toastBox().append(el);
  setTimeout(() => el.remove(), ms);
  return el;
}

export function showError(err) {
  toast(err instanceof ApiError ? err.message : t("Something went wrong: {detail}", { detail: String(err) }),
    "error", 7000);
}

export async function logout() {
  try {
    await api("/auth/logout", { method: "POST", quiet: true, redirect: false });
  } catch {
    // Already logged out or the session expired: the login page is where we go either way.
  }
  if ("caches" in window) {
    // The phone app keeps API answers for offline use; they must not outlive the session.
    try { await caches.delete("xl-api"); } catch { /* not available */ }
  }
  const home = { tv: "/tv", mobile: "/m" }[terminal()] || "/";
  location.assign(loginUrl(home));
}

/** Fresh stream URLs for a camera (a new short-lived token; each grant is audited by the server). */
export async function openStreams(cameraId) {
  const out = await api(`/cameras/${cameraId}/open`, { method: "POST", quiet: true });
  return out.streams;
}

/** Wires what every page has: logout buttons, and the language links (remembered on the account too). */
export function wireCommon(root = document) {
  for (const btn of root.querySelectorAll("[data-logout]")) {
    btn.addEventListener("click", (e) => { e.preventDefault(); logout(); });
  }
  for (const link of root.querySelectorAll("a[data-locale]")) {
    link.addEventListener("click", async (e) => {
      if (!me) return; // the plain link sets the cookie; nothing more to do when logged out
      e.preventDefault();
      try {
        await api("/me/locale", { method: "PUT", body: { locale: link.dataset.locale }, quiet: true });
      } catch {
        // The cookie set by the link is enough for this browser.
      }
      location.assign(link.href);
    });
  }
}

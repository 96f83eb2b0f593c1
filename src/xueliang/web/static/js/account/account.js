// The account page (/account): set up a second factor (TOTP) — password, then the QR code of the
// otpauth:// URI (drawn by the server from a POST body, so the secret is in no URL), then a code from
// the app, then the ten recovery codes, shown this once; the caller's sessions with "end"; for admins,
// another user's sessions and second factor. The API decides everything (accounts/views.py); without a
// session only enrolment is offered (a user who must have a factor cannot log in before they have one).

import { ApiError, api, me, toast, wireCommon } from "../api.js";
import { $, h } from "../dom.js";
import { formatDateTime, t } from "../i18n.js";

wireCommon();

const root = $("#acct");
const state = { username: "", password: "" };

function say(el, text) { el.textContent = text; }

function failure(err) {
  if (!(err instanceof ApiError)) return String(err);
  return {
    bad_credentials: t("Wrong username or password."),
    login_locked: t("Too many failed attempts. Please wait a few minutes and try again."),
    too_many_requests: t("Too many requests. Please wait a moment and try again."),
    mfa_enrolled: t("A second factor is already set up. An administrator can reset it."),
    bad_otp: t("Wrong code. Enter the code the app shows now."),
  }[err.code] || err.message;
}

// --- second factor ------------------------------------------------------------------------------------

async function showStatus() {
  const status = $("#mfa-status");
  if (!me) {
    say(status, t("Log in to see your sessions. Setting up a second factor needs only your password."));
    return;
  }
  const mfa = await api("/me/mfa");
  if (mfa.enrolled) {
    say(status, t("A second factor is set up. Recovery codes left: {n}", { n: mfa.recovery_codes_left }));
    $("#mfa-start").hidden = true;
  } else {
    say(status, mfa.required ? t("Your role must log in with a second factor: set one up now.")
      : t("No second factor is set up."));
  }
}

async function qrImage(uri) {
  const response = await fetch("/account/totp-qr.svg", {
    method: "POST", headers: { "Content-Type": "application/json" }, credentials: "same-origin",
    body: JSON.stringify({ uri }),
  });
  if (!response.ok) throw new Error(`QR ${response.status}`);
  return URL.createObjectURL(await response.blob());
}

$("#mfa-start").addEventListener("submit", async (e) => {
  e.preventDefault();
  state.username = $("#mfa-username").value.trim();
  state.password = $("#mfa-password").value;
  try {
    const out = await api("/auth/mfa/enroll", {
      method: "POST", body: { username: state.username, password: state.password }, quiet: true, redirect: false,
    });
    $("#mfa-qr").src = await qrImage(out.otpauth_uri);
    say($("#mfa-secret"), out.secret);
    $("#mfa-start").hidden = true;
    $("#mfa-setup").hidden = false;
    $("#mfa-otp").focus();
  } catch (err) {
    toast(failure(err), "error", 7000);
  }
});

$("#mfa-confirm").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const out = await api("/auth/mfa/confirm", {
      method: "POST", quiet: true, redirect: false,
      body: { username: state.username, password: state.password, otp: $("#mfa-otp").value.trim() },
    });
    state.password = "";
    $("#mfa-setup").hidden = true;
    $("#mfa-codes").hidden = false;
    $("#mfa-code-list").replaceChildren(...out.recovery_codes.map((code) => h("li", {}, h("code", {}, code))));
    say($("#mfa-status"), t("The second factor is on: from now on, logging in asks for a code."));
  } catch (err) {
    toast(failure(err), "error", 7000);
    $("#mfa-otp").select();
  }
});

// --- sessions -----------------------------------------------------------------------------------------

const KIND = () => ({ cookie: t("Browser"), bearer: t("Device token") });

function sessionRows(rows, onEnd) {
  const head = h("tr", {}, ...[t("Since"), t("Until"), t("Kind"), t("Device"), ""].map((x) => h("th", {}, x)));
  const body = rows.map((s) => h("tr", { "data-session": s.id },
    h("td", {}, formatDateTime(s.created_at)),
    h("td", {}, formatDateTime(s.expires_at)),
    h("td", {}, KIND()[s.kind] || s.kind),
    h("td", { class: "acct-client" }, s.client || "—"),
    h("td", {}, s.current ? h("strong", {}, t("This session"))
      : onEnd ? h("button", { type: "button", class: "btn btn-sm", onclick: () => onEnd(s) }, t("End")) : "")));
  return [h("thead", {}, head), h("tbody", {}, body.length ? body : h("tr", {}, h("td", { colspan: 5 }, t("None"))))];
}

async function loadSessions() {
  const rows = await api("/me/sessions");
  $("#sessions").replaceChildren(...sessionRows(rows, async (s) => {
    await api(`/me/sessions/${s.id}`, { method: "DELETE" });
    toast(t("Session ended."), "ok");
    await loadSessions();
  }));
}

// --- admin: another user --------------------------------------------------------------------------------

async function loadUsers() {
  const users = await api("/users");
  $("#admin-user").replaceChildren(...users.map((u) => h("option", { value: u.id }, `${u.display_name} (${u.username})`)));
}

const chosen = () => $("#admin-user").value;

async function showUserSessions() {
  const rows = await api(`/users/${chosen()}/sessions`);
  $("#admin-sessions").replaceChildren(...sessionRows(rows, async (s) => {
    await api(`/users/${chosen()}/sessions/${s.id}`, { method: "DELETE" });
    await showUserSessions();
  }));
  say($("#admin-result"), t("{n} active sessions.", { n: rows.length }));
}

function wireAdmin() {
  $("#admin-show").addEventListener("click", showUserSessions);
  $("#admin-revoke").addEventListener("click", async () => {
    if (!confirm(t("End all of this user's sessions?"))) return;
    await api(`/users/${chosen()}/sessions`, { method: "DELETE" });
    await showUserSessions();
    say($("#admin-result"), t("All sessions ended."));
  });
  $("#admin-reset").addEventListener("click", async () => {
    if (!confirm(t("Reset this user's second factor? Their sessions end and they set it up again."))) return;
    try {
      await api(`/users/${chosen()}/mfa`, { method: "DELETE", quiet: true });
      say($("#admin-result"), t("Second factor reset; the user's sessions have ended."));
      $("#admin-sessions").replaceChildren();
    } catch (err) {
      say($("#admin-result"), err.code === "not_found" ? t("This user has no second factor.") : failure(err));
    }
  });
}

async function start() {
  await showStatus();
  if (me) await loadSessions();
  if ($("#admin-panel")) { wireAdmin(); await loadUsers(); }
  root.dataset.ready = "1";
}

start();

// The login page of each terminal. On the TV variant everything is reachable with ▲ ▼ ◀ ▶ and OK:
// the language links, both fields and the button form one column.

import { api, setCsrf, wireCommon } from "./api.js";
import { t } from "./i18n.js";

const form = document.getElementById("login-form");
const errorBox = document.getElementById("login-error");
const submit = document.getElementById("login-submit");
const otpRow = document.getElementById("otp-row");
const terminal = document.body.dataset.terminal;
const HOME = { tv: "/tv", mobile: "/m" };

wireCommon();

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const username = form.username.value.trim();
  const password = form.password.value;
  if (!username || !password) {
    showError(t("Enter your username and password."));
    (username ? form.password : form.username).focus();
    return;
  }
  showError("");
  submit.disabled = true;
  submit.textContent = t("Logging in…");
  try {
    // A TV or phone login lands on its own terminal; the console lets the role decide (auditor -> /audit).
    const next = form.dataset.next || HOME[terminal] || "";
    const body = { username, password, next };
    if (!otpRow.hidden) body.otp = form.otp.value.trim();
    const out = await api("/auth/login", { method: "POST", body, quiet: true, redirect: false });
    setCsrf(out.csrf_token);
    location.assign(out.landing || "/");
  } catch (err) {
    showError(err.message);
    submit.disabled = false;
    submit.textContent = t("Log in");
    if (err.code === "mfa_required" || err.code === "bad_otp") {
      // The password was right; the account has a second factor: ask for the code (or a recovery code).
      otpRow.hidden = false;
      form.otp.select();
      form.otp.focus();
      return;
    }
    if (err.code === "mfa_enrollment_required" && terminal === "console") {
      // The role must have a second factor and this account has none: set it up first (/account).
      errorBox.append(" ", Object.assign(document.createElement("a"), {
        href: "/account", id: "enrol-link", textContent: t("Set up a second factor"),
      }));
    }
    form.password.select();
    form.password.focus();
  }
});

// Remote-control navigation for the TV login (also handy on the console: Enter moves to the next field).
const KEYS = { 37: "left", 38: "up", 39: "right", 40: "down", 13: "enter" };
const NAMES = { ArrowLeft: "left", ArrowUp: "up", ArrowRight: "right", ArrowDown: "down", Enter: "enter" };

if (terminal === "tv") {
  const langLinks = [...document.querySelectorAll(".lang a")];
  document.addEventListener("keydown", (e) => {
    const column = [...form.querySelectorAll("[data-nav]")].filter((el) => el.offsetParent !== null);
    const key = NAMES[e.key] || KEYS[e.keyCode];
    if (!key) return;
    const el = document.activeElement;
    const inColumn = column.indexOf(el);
    const inLang = langLinks.indexOf(el);
    if (key === "down" || key === "up") {
      e.preventDefault();
      if (inLang >= 0) {
        if (key === "down") column[0].focus();
      } else if (inColumn >= 0) {
        const next = inColumn + (key === "down" ? 1 : -1);
        if (next < 0) (langLinks.find((a) => !a.classList.contains("active")) || langLinks[0]).focus();
        else if (next < column.length) column[next].focus();
      } else {
        column[0].focus();
      }
    } else if ((key === "left" || key === "right") && inLang >= 0) {
      e.preventDefault();
      const next = inLang + (key === "right" ? 1 : -1);
      if (next >= 0 && next < langLinks.length) langLinks[next].focus();
    } else if (key === "enter" && el === form.username) {
      e.preventDefault();
      form.password.focus();
    }
    // Enter on the password field or the button submits the form; on a language link it follows it.
  });
}

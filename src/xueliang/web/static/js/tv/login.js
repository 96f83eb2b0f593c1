// The TV's login page (templates/tv_login.html), the ES2015 classic-script copy of login.js: the
// language links, both fields and the button form one column, reachable with ▲ ▼ ◀ ▶ and OK.
(function () {
  "use strict";

  var TV = window.XLTV;
  var t = TV.t;
  var form = document.getElementById("login-form");
  var errorBox = document.getElementById("login-error");
  var submit = document.getElementById("login-submit");

  TV.wireCommon();
  TV.keys.claimKeys();

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var username = form.username.value.trim();
    var password = form.password.value;
    if (!username || !password) {
      showError(t("Enter your username and password."));
      (username ? form.password : form.username).focus();
      return;
    }
    showError("");
    submit.disabled = true;
    submit.textContent = t("Logging in…");
    var next = form.getAttribute("data-next") || "/tv";
    TV.api("/auth/login", { method: "POST", body: { username: username, password: password, next: next }, quiet: true,
      redirect: false }).then(function (out) {
      location.assign(out.landing || "/tv");
    }, function (err) {
      showError(err.message);
      submit.disabled = false;
      submit.textContent = t("Log in");
      form.password.select();
      form.password.focus();
    });
  });

  var langLinks = TV.$$(".lang a");
  var column = TV.$$("[data-nav]", form);

  document.addEventListener("keydown", function (e) {
    var key = TV.keys.remoteKey(e);
    if (!key) return;
    var el = document.activeElement;
    var inColumn = column.indexOf(el);
    var inLang = langLinks.indexOf(el);
    if (key === "down" || key === "up") {
      e.preventDefault();
      if (inLang >= 0) {
        if (key === "down") column[0].focus();
      } else if (inColumn >= 0) {
        var next = inColumn + (key === "down" ? 1 : -1);
        if (next < 0) (langLinks.filter(function (a) { return !a.classList.contains("active"); })[0] || langLinks[0]).focus();
        else if (next < column.length) column[next].focus();
      } else {
        column[0].focus();
      }
    } else if ((key === "left" || key === "right") && inLang >= 0) {
      e.preventDefault();
      var step = inLang + (key === "right" ? 1 : -1);
      if (step >= 0 && step < langLinks.length) langLinks[step].focus();
    } else if (key === "ok" && el === form.username) {
      e.preventDefault();
      form.password.focus();
    } else if (key === "ok" && (el === form.password || el === submit)) {
      e.preventDefault();
      submit.click(); // remotes whose OK is not a form's Enter (keyCode only) submit the same way
    } else if (key === "back" && el && el.tagName === "INPUT" && el.value && e.keyCode === 8) {
      // Backspace in a field deletes a character, as it should.
    } else if (key === "back" || key === "red") {
      e.preventDefault(); // no history navigation away from the login page
    }
  });
}());

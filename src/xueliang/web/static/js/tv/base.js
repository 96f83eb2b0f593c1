// TV base: the DOM builder, translations, formatting and the /api/v1 client for the set-top box pages.
//
// Every TV script is a classic script in plain ES2015 (no modules, no async/await, no build step; see
// docs/tv.md): old set-top engines run them as they are. This file is the TV's own copy of what the
// console and phone take from dom.js, i18n.js and api.js (ES modules, newer syntax); the scripts share
// one namespace, window.XLTV, and tv.html loads them in order.
(function () {
  "use strict";

  var XL = window.XL || {};
  var TV = window.XLTV = window.XLTV || {};
  var messages = XL.messages || {};

  // ------------------------------------------------------------------------------------------- the DOM

  function append(el, children) {
    for (var i = 0; i < children.length; i += 1) {
      var child = children[i];
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) append(el, child);
      else el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  /** h("button", {class: "x", onclick: fn, dataset: {id: 3}}, "text", node, [more]): an element, never innerHTML. */
  function h(tag, attrs) {
    var svg = tag.indexOf("svg:") === 0;
    var el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4)) : document.createElement(tag);
    var a = attrs || {};
    Object.keys(a).forEach(function (key) {
      var value = a[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "dataset") Object.keys(value).forEach(function (k) { el.setAttribute("data-" + k.replace(/[A-Z]/g, function (c) { return "-" + c.toLowerCase(); }), String(value[k])); });
      else if (key.indexOf("on") === 0 && typeof value === "function") el.addEventListener(key.slice(2), value);
      else if (key === "text") el.textContent = value;
      else el.setAttribute(key, value === true ? "" : String(value));
    });
    append(el, Array.prototype.slice.call(arguments, 2));
    return el;
  }

  /** Replaces the children of `el` (Element.replaceChildren is Chromium 86+: too new for the boxes). */
  function fill(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    append(el, Array.prototype.slice.call(arguments, 1));
    return el;
  }

  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  // ------------------------------------------------------------------------------------- translations

  var locale = XL.locale || "zh_CN";
  var timezone = XL.timezone || "Asia/Shanghai";
  var intlLocale = locale === "en" ? "en-GB" : "zh-CN";

  /** Translate `msgid` (the English text); `{name}` placeholders are filled from `params`. */
  function t(msgid, params) {
    var text = messages[msgid] || msgid;
    if (params) {
      text = text.replace(/\{(\w+)\}/g, function (whole, key) {
        return Object.prototype.hasOwnProperty.call(params, key) ? String(params[key]) : whole;
      });
    }
    return text;
  }

  /** A name in the page's language, the Chinese one as the fallback (`name`/`name_en` or `title`/`title_en`). */
  function localName(obj, field) {
    if (!obj) return "";
    var f = field || (obj.name !== undefined ? "name" : "title");
    return locale === "en" && obj[f + "_en"] ? obj[f + "_en"] : obj[f] || "";
  }

  function formatter(options) {
    try {
      options.timeZone = timezone;
      return new Intl.DateTimeFormat(intlLocale, options);
    } catch (e) {
      delete options.timeZone; // an engine without time zone data: the box's own zone
      return new Intl.DateTimeFormat(intlLocale, options);
    }
  }
  var dateTime = formatter({ year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });
  var dayOnly = formatter({ month: "long", day: "numeric", weekday: "short" });
  var clock = formatter({ hour: "2-digit", minute: "2-digit", hour12: false });
  var longDate = formatter({ month: "long", day: "numeric", weekday: "long" });

  function formatDateTime(iso) {
    var d = new Date(iso);
    return isNaN(d.getTime()) ? String(iso) : dateTime.format(d);
  }
  /** A date-only ISO string ("2026-12-07") as a day, read in the platform's zone (noon avoids edge days). */
  function formatDay(iso) {
    var d = new Date(String(iso).length === 10 ? iso + "T12:00:00+08:00" : iso);
    return isNaN(d.getTime()) ? String(iso) : dayOnly.format(d);
  }
  function formatClock(d) { return clock.format(d || new Date()); }
  function formatDate(d) { return longDate.format(d || new Date()); }

  function kindLabel(kind) {
    return { key_place: t("Key place"), intersection: t("Intersection"), settlement: t("Settlement") }[kind] || kind;
  }

  // ------------------------------------------------------------------------------------------- the API

  var me = XL.me || null;
  var permissions = (me && me.permissions) || [];
  function can(action) { return permissions.indexOf(action) >= 0; }

  function ApiError(status, code, message, detail) {
    var err = new Error(message);
    err.name = "ApiError";
    err.status = status;
    err.code = code;
    err.detail = detail || "";
    return err;
  }

  function describe(status, code, serverMessage) {
    var known = {
      not_logged_in: t("Your session has ended. Please log in again."),
      csrf: t("Your session has expired. Reload the page and try again."),
      forbidden: t("Your role may not do this."),
      not_found: t("Not found, or outside your area."),
      network: t("Cannot reach the server. Check the network and try again."),
      too_many_requests: t("Too many requests. Please wait a moment and try again."),
    }[code];
    if (known) return known;
    if (serverMessage) return serverMessage;
    return t("Something went wrong ({status}): {detail}", { status: status, detail: code });
  }

  function terminal() { return document.body.getAttribute("data-terminal") || "tv"; }
  function loginUrl(next) {
    return "/login?terminal=" + encodeURIComponent(terminal()) + "&next=" + encodeURIComponent(next || location.pathname);
  }

  function toast(message, kind, ms) {
    var box = $(".toasts");
    if (!box) {
      box = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
      document.body.appendChild(box);
    }
    var el = h("div", { class: "toast toast-" + (kind || "info"), role: kind === "error" ? "alert" : null }, message);
    box.appendChild(el);
    setTimeout(function () { if (el.parentNode) el.parentNode.removeChild(el); }, ms || 4500);
    return el;
  }

  /**
   * api("/portal/jobs", {query: {city: "成都"}}) -> Promise of the parsed JSON (null for 204).
   * Options: method, body (JSON), query (empty values dropped), quiet (do not show the error).
   */
  function api(path, options) {
    var o = options || {};
    var method = o.method || "GET";
    var query = o.query || {};
    var parts = [];
    Object.keys(query).forEach(function (key) {
      var value = query[key];
      if (value === "" || value === null || value === undefined) return;
      (Array.isArray(value) ? value : [value]).forEach(function (v) {
        parts.push(encodeURIComponent(key) + "=" + encodeURIComponent(String(v)));
      });
    });
    var url = "/api/v1" + path + (parts.length ? (path.indexOf("?") >= 0 ? "&" : "?") + parts.join("&") : "");
    var headers = { Accept: "application/json" };
    if (o.body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = XL.csrf || "";
    function fail(err) {
      if (err.code === "not_logged_in" && o.redirect !== false) location.assign(loginUrl());
      else if (!o.quiet) toast(err.message, "error", 7000);
      throw err;
    }
    return fetch(url, {
      method: method, headers: headers, credentials: "same-origin",
      body: o.body === undefined ? undefined : JSON.stringify(o.body),
    }).then(function (response) {
      if (response.status === 204) return null;
      return response.json().catch(function () { return null; }).then(function (data) {
        if (response.ok) return data;
        var code = (data && data.code) || "http_error";
        return fail(ApiError(response.status, code, describe(response.status, code, data && data.message), data && data.message));
      });
    }, function (cause) {
      return fail(ApiError(0, "network", describe(0, "network", String(cause))));
    });
  }

  function logout() {
    var home = { tv: "/tv", mobile: "/m" }[terminal()] || "/";
    return api("/auth/logout", { method: "POST", quiet: true, redirect: false })
      .catch(function () { return null; }) // already logged out: the login page either way
      .then(function () { location.assign(loginUrl(home)); });
  }

  /** Logout buttons and the language links (remembered on the account too). */
  function wireCommon(root) {
    $$("[data-logout]", root).forEach(function (btn) {
      btn.addEventListener("click", function (e) { e.preventDefault(); logout(); });
    });
    $$("a[data-locale]", root).forEach(function (link) {
      link.addEventListener("click", function (e) {
        if (!me) return;
        e.preventDefault();
        api("/me/locale", { method: "PUT", body: { locale: link.getAttribute("data-locale") }, quiet: true })
          .catch(function () { return null; })
          .then(function () { location.assign(link.href); });
      });
    });
  }

  TV.h = h;
  TV.fill = fill;
  TV.$ = $;
  TV.$$ = $$;
  TV.t = t;
  TV.locale = locale;
  TV.localName = localName;
  TV.formatDateTime = formatDateTime;
  TV.formatDay = formatDay;
  TV.formatClock = formatClock;
  TV.formatDate = formatDate;
  TV.kindLabel = kindLabel;
  TV.me = me;
  TV.can = can;
  TV.api = api;
  TV.toast = toast;
  TV.logout = logout;
  TV.wireCommon = wireCommon;
  TV.loginUrl = loginUrl;
}());

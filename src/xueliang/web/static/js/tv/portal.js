// The portal on the TV (data: /api/v1/portal, docs/portal-api.md): government services by life event
// with the "before you start" facts first, T9 search with the number keys, jobs filtered by city and
// type, produce prices with the day's change and a 30-day chart (inline SVG) and subscriptions, the
// department directory with the number shown large, notices, the urgent full-screen banner (OK
// dismisses it) and "I'm OK" (报平安) where the grid domain offers it. Classic ES2015 (docs/tv.md).
(function () {
  "use strict";

  var TV = window.XLTV;
  var h = TV.h;
  var fill = TV.fill;
  var t = TV.t;
  var $ = TV.$;
  var api = TV.api;
  var name = TV.localName;
  var nav = null;

  // ------------------------------------------------------------------------------------------- helpers

  /** A screen section created once in the main area: <section id="screen-NAME"><h1>title</h1>...</section>. */
  function screenEl(id, title) {
    var el = h("section", { id: "screen-" + id, class: "screen", "aria-label": title, hidden: true },
      h("h1", { class: "tv-h1" }, title));
    $("#tv-main").appendChild(el);
    return el;
  }

  function row(main, sub, right, onOk, attrs) {
    var a = { type: "button", class: "tv-row", "data-nav": true, onclick: onOk };
    Object.keys(attrs || {}).forEach(function (k) { a[k] = attrs[k]; });
    return h("button", a, right !== undefined && right !== null ? h("span", { class: "row-right" }, right) : null,
      h("span", { class: "row-main" }, main), sub ? h("span", { class: "row-sub" }, sub) : null);
  }

  function chip(label, pressed, onOk, attrs) {
    var a = { type: "button", class: "tv-chip", "data-nav": true, "aria-pressed": pressed ? "true" : "false", onclick: onOk };
    Object.keys(attrs || {}).forEach(function (k) { a[k] = attrs[k]; });
    return h("button", a, label);
  }

  /** A block of a detail page: it takes the focus, so ▲ ▼ walk (and scroll) through the page. */
  function fact(title, body, cls) {
    if (body === null || body === undefined || body === "" || (Array.isArray(body) && !body.length)) return null;
    var content = Array.isArray(body) ? h("ul", {}, body.map(function (x) { return h("li", {}, x); })) : h("p", {}, String(body));
    return h("div", { class: "tv-fact " + (cls || ""), "data-nav": true, tabindex: "-1" }, h("h3", {}, title), content);
  }

  function empty(text) { return h("p", { class: "tv-empty" }, text); }
  function loading() { return h("p", { class: "tv-empty" }, t("Loading…")); }
  function hint(text) { $("#hint-extra").textContent = text || ""; }

  function money(x) { return x === null || x === undefined ? "—" : Number(x).toFixed(2); }

  function changeText(r) {
    if (r.change === null || r.change === undefined) return { text: t("new"), cls: "tv-flat" };
    var pct = r.change_pct === null || r.change_pct === undefined ? "" : " (" + (r.change_pct > 0 ? "+" : "") + Number(r.change_pct).toFixed(1) + "%)";
    if (r.change > 0) return { text: "▲ " + money(r.change) + pct, cls: "tv-up" };
    if (r.change < 0) return { text: "▼ " + money(-r.change) + pct, cls: "tv-down" };
    return { text: "= " + money(0), cls: "tv-flat" };
  }

  // ------------------------------------------------------------------------------------------ services

  var svc = { categories: null, category: "", list: null };
  var servicesEl;
  var serviceEl;

  function categoryLabel(code) {
    var c = (svc.categories || []).filter(function (x) { return x.code === code; })[0];
    return c ? name(c) : code;
  }

  function renderServices() {
    var side = $(".tv-side", servicesEl);
    var list = $(".tv-list", servicesEl);
    fill(side, [chip(t("All"), svc.category === "", function () { pickCategory(""); }, { "data-category": "" })]
      .concat((svc.categories || []).map(function (c) {
        return chip(name(c) + " · " + c.count, svc.category === c.code, function () { pickCategory(c.code); }, { "data-category": c.code });
      })));
    if (svc.list === null) { fill(list, loading()); return; }
    fill(list, svc.list.length ? svc.list.map(function (s) {
      return row(name(s, "title"), name(s, "department"), null, function () { nav.go("service", { id: s.id }); }, { "data-service-id": s.id });
    }) : empty(t("No services in this category.")));
  }

  function pickCategory(code) {
    svc.category = code;
    svc.list = null;
    renderServices();
    var chipEl = $('[data-category="' + code + '"]', servicesEl);
    if (chipEl) nav.focus(chipEl);
    return api("/portal/services", { query: { category: code, limit: 200 } }).then(function (out) {
      if (svc.category !== code) return;
      svc.list = out.items;
      renderServices();
      var again = $('[data-category="' + code + '"]', servicesEl);
      if (again && document.activeElement === document.body) nav.focus(again);
    });
  }

  function enterServices(params, back) {
    hint(t("Search: the first letters of the pinyin"));
    if (back && svc.list) return null;
    var first = svc.categories ? Promise.resolve(svc.categories) : api("/portal/categories");
    return first.then(function (cats) {
      svc.categories = cats;
      return pickCategory(svc.category);
    });
  }

  function enterService(params) {
    var body = $(".tv-detail", serviceEl);
    fill(body, loading());
    hint("");
    return api("/portal/services/" + params.id).then(function (s) {
      $("h1", serviceEl).textContent = name(s, "title");
      fill(body,
        h("p", { class: "tv-note" }, name(s, "department") + (s.categories && s.categories.length ? " · " + s.categories.map(categoryLabel).join(" / ") : "")),
        h("div", { class: "tv-facts-grid", "data-nav-section": "before" },
          fact(t("Who can apply"), s.conditions, "fact-first"),
          fact(t("Bring these"), s.materials, "fact-first"),
          fact(t("Where and when"), [s.where, s.when].filter(Boolean).join("\n"), "fact-first"),
          fact(t("Time limit"), s.time_limit, "fact-first"),
          fact(t("Fees"), s.fees, "fact-first"),
          fact(t("Contact phone"), s.phone, "fact-first")),
        fact(t("About this service"), s.summary),
        fact(t("Online"), s.online_url ? t("Open {url} on your phone (the phone page shows a QR code).", { url: s.online_url }) : ""));
      nav.focus(nav.first(body));
    });
  }

  // -------------------------------------------------------------------------------------------- search

  var T9_KEYS = { 2: "abc", 3: "def", 4: "ghi", 5: "jkl", 6: "mno", 7: "pqrs", 8: "tuv", 9: "wxyz" };
  var search = { digits: "", seq: 0 };
  var searchEl;

  function kindText(kind) {
    return { service: t("Service"), department: t("Department"), job: t("Job") }[kind] || kind;
  }

  function runSearch() {
    var digits = search.digits;
    $(".tv-t9-digits", searchEl).textContent = digits || "—";
    var list = $(".tv-list", searchEl);
    search.seq += 1;
    var seq = search.seq;
    if (!digits) { fill(list, empty(t("Type the first letters of the pinyin with the number keys."))); return null; }
    return api("/portal/search", { query: { t9: digits, limit: 30 } }).then(function (out) {
      if (seq !== search.seq) return;
      fill(list, out.items.length ? out.items.map(function (hit) {
        return row(name(hit, "title"), kindText(hit.kind) + (hit.subtitle ? " · " + hit.subtitle : ""), null, function () {
          nav.go(hit.kind === "service" ? "service" : hit.kind === "job" ? "job" : "department", { id: hit.id });
        }, { "data-hit": hit.kind + ":" + hit.id });
      }) : empty(t("Nothing found for {digits}.", { digits: digits })));
    });
  }

  function searchKey(key) {
    if (/^[0-9]$/.test(key)) {
      if (search.digits.length < 12) search.digits += key;
      runSearch();
      return true;
    }
    if ((key === "back" || key === "del") && search.digits) {
      search.digits = search.digits.slice(0, -1); // Back deletes a digit first, then leaves
      runSearch();
      return true;
    }
    return false;
  }

  /** A digit pressed on home or in the services opens the search with that digit. */
  TV.startSearch = function (digit) {
    search.digits = "";
    nav.go("search");
    searchKey(digit);
  };

  // ---------------------------------------------------------------------------------------------- jobs

  var jobs = { cities: null, city: "", type: "", list: null };
  var jobsEl;
  var jobEl;
  var JOB_TYPES = ["FULL_TIME", "PART_TIME", "TEMPORARY", "SEASONAL"];

  function jobTypeText(type) {
    return { FULL_TIME: t("Full time"), PART_TIME: t("Part time"), TEMPORARY: t("Temporary"), SEASONAL: t("Seasonal"),
      CONTRACTOR: t("Contract") }[type] || type;
  }
  function salaryText(j) {
    var unit = { MONTH: t("per month"), DAY: t("per day"), HOUR: t("per hour") }[j.salary_unit] || "";
    if (j.salary_min === null && j.salary_max === null) return "";
    var range = j.salary_min === j.salary_max || j.salary_max === null ? String(j.salary_min) : j.salary_min + "–" + j.salary_max;
    return t("{range} yuan {unit}", { range: range, unit: unit });
  }

  function renderJobs() {
    var filters = $(".tv-filters", jobsEl);
    fill(filters,
      h("div", { class: "tv-filter-line" }, h("span", { class: "chips-label" }, t("City")),
        h("div", { class: "tv-chips-row", "data-nav-section": "cities" },
          chip(t("All"), jobs.city === "", function () { filterJobs("city", ""); }, { "data-city": "" }),
          (jobs.cities || []).map(function (c) {
            return chip(c.city + " " + c.count, jobs.city === c.city, function () { filterJobs("city", c.city); }, { "data-city": c.city });
          }))),
      h("div", { class: "tv-filter-line" }, h("span", { class: "chips-label" }, t("Type")),
        h("div", { class: "tv-chips-row", "data-nav-section": "types" },
          chip(t("All"), jobs.type === "", function () { filterJobs("type", ""); }, { "data-type": "" }),
          JOB_TYPES.map(function (ty) { return chip(jobTypeText(ty), jobs.type === ty, function () { filterJobs("type", ty); }, { "data-type": ty }); }))));
    var list = $(".tv-list", jobsEl);
    if (jobs.list === null) { fill(list, loading()); return; }
    fill(list, jobs.list.length ? jobs.list.map(function (j) {
      return row(name(j, "title"), [j.employer, j.city, jobTypeText(j.type)].join(" · "), salaryText(j),
        function () { nav.go("job", { id: j.id }); }, { "data-job-id": j.id });
    }) : empty(t("No jobs match.")));
  }

  function filterJobs(field, value) {
    jobs[field] = value;
    jobs.list = null;
    renderJobs();
    var sel = field === "city" ? '[data-city="' + value + '"]' : '[data-type="' + value + '"]';
    nav.focus($(sel, jobsEl));
    return api("/portal/jobs", { query: { city: jobs.city, type: jobs.type, limit: 200 } }).then(function (out) {
      jobs.list = out.items;
      renderJobs();
      var again = $(sel, jobsEl);
      if (again) nav.focus(again);
      $(".tv-h1 small", jobsEl).textContent = t("{n} postings", { n: out.total });
    });
  }

  function enterJobs(params, back) {
    hint("");
    if (back && jobs.list) return null;
    return api("/portal/jobs/cities").then(function (cities) {
      jobs.cities = cities;
      return filterJobs("city", jobs.city);
    });
  }

  function enterJob(params) {
    var body = $(".tv-detail", jobEl);
    fill(body, loading());
    return api("/portal/jobs/" + params.id).then(function (j) {
      $("h1", jobEl).textContent = name(j, "title");
      fill(body,
        h("div", { class: "tv-facts-grid" },
          fact(t("Employer"), j.employer + " · " + j.city, "fact-first"),
          fact(t("Pay"), salaryText(j), "fact-first"),
          fact(t("Contact"), j.contact, "fact-first")),
        fact(t("Work hours"), j.work_hours),
        fact(t("Requirements"), j.requirements),
        fact(t("Type"), jobTypeText(j.type)),
        fact(t("Posted"), TV.formatDay(j.date_posted) + " · " + t("valid until {day}", { day: TV.formatDay(j.valid_through) })));
      nav.focus(nav.first(body));
    });
  }

  // -------------------------------------------------------------------------------------------- prices

  var prices = { markets: null, market: null, rows: null, subs: [] };
  var pricesEl;
  var priceEl;

  function moverRow(r) {
    var ch = changeText(r);
    return h("button", { type: "button", class: "tv-mover", "data-nav": true,
      onclick: function () { nav.go("price", { productId: r.product_id, marketId: r.market_id }); } },
    h("span", {}, name(r, "product")), h("span", { class: ch.cls }, (r.change_pct > 0 ? "+" : "") + Number(r.change_pct || 0).toFixed(1) + "%"));
  }

  function renderPrices() {
    var side = $(".tv-side", pricesEl);
    var movers = prices.movers || { risers: [], fallers: [] };
    fill(side, (prices.markets || []).map(function (m) {
      return chip(name(m), prices.market === m.id, function () { pickMarket(m.id); }, { "data-market": m.id });
    }),
    movers.risers.length ? h("h3", { class: "tv-side-h" }, t("Top risers")) : null, movers.risers.map(moverRow),
    movers.fallers.length ? h("h3", { class: "tv-side-h" }, t("Top fallers")) : null, movers.fallers.map(moverRow));
    var list = $(".tv-list", pricesEl);
    if (prices.rows === null) { fill(list, loading()); return; }
    fill(list, prices.rows.length ? prices.rows.map(function (r) {
      var ch = changeText(r);
      var subscribed = prices.subs.some(function (s) { return s.product_id === r.product_id; });
      return row((subscribed ? "★ " : "") + name(r, "product"), money(r.price) + " " + t("yuan") + " / " + r.unit,
        h("span", { class: ch.cls }, ch.text), function () { nav.go("price", { productId: r.product_id, marketId: r.market_id }); },
        { "data-product-id": r.product_id });
    }) : empty(t("No prices published yet.")));
  }

  function pickMarket(id) {
    prices.market = id;
    prices.rows = null;
    renderPrices();
    nav.focus($('[data-market="' + id + '"]', pricesEl));
    return Promise.all([
      api("/portal/prices", { query: { market_id: id } }),
      api("/portal/subscriptions", { quiet: true }).catch(function () { return []; }),
      api("/portal/prices/movers", { query: { limit: 3 }, quiet: true }).catch(function () { return null; }),
    ]).then(function (out) {
      prices.rows = out[0].items;
      prices.subs = out[1];
      prices.movers = out[2];
      $(".tv-h1 small", pricesEl).textContent = out[0].day ? TV.formatDay(out[0].day) : "";
      renderPrices();
      nav.focus($('[data-market="' + id + '"]', pricesEl));
    });
  }

  function enterPrices(params, back) {
    hint("");
    if (back && prices.rows) {
      return api("/portal/subscriptions", { quiet: true }).then(function (subs) {
        prices.subs = subs;
        var focused = document.activeElement;
        var pid = focused && focused.getAttribute("data-product-id");
        renderPrices();
        return pid;
      });
    }
    return api("/portal/prices/markets").then(function (markets) {
      prices.markets = markets;
      return pickMarket(prices.market || (markets[0] && markets[0].id));
    });
  }

  /** The 30-day line of one market as an inline SVG (no chart library: nothing to load on a box). */
  function chart(points, unit) {
    var W = 1000;
    var H = 240;
    var P = 50;
    var svg = h("svg:svg", { class: "tv-chart", viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", role: "img",
      "aria-label": t("Price over 30 days") });
    if (points.length < 2) return svg;
    var vals = points.map(function (p) { return p.price; });
    var lo = Math.min.apply(null, vals);
    var hi = Math.max.apply(null, vals);
    if (hi === lo) { hi += 1; lo -= 1; }
    function x(i) { return P + (i * (W - 2 * P)) / (points.length - 1); }
    function y(v) { return H - P + 10 - ((v - lo) * (H - 2 * P)) / (hi - lo); }
    var d = points.map(function (p, i) { return (i ? "L" : "M") + x(i).toFixed(1) + " " + y(p.price).toFixed(1); }).join(" ");
    svg.appendChild(h("svg:path", { class: "chart-axis", d: "M" + P + " " + (H - P + 10) + "H" + (W - P) }));
    svg.appendChild(h("svg:path", { class: "chart-line", d: d }));
    svg.appendChild(h("svg:text", { x: 4, y: y(hi) + 6 }, money(hi)));
    svg.appendChild(h("svg:text", { x: 4, y: y(lo) + 6 }, money(lo)));
    svg.appendChild(h("svg:text", { x: P, y: H - 8 }, TV.formatDay(points[0].day)));
    svg.appendChild(h("svg:text", { x: W - P - 150, y: H - 8 }, TV.formatDay(points[points.length - 1].day)));
    return svg;
  }

  function enterPrice(params) {
    var body = $(".tv-detail", priceEl);
    fill(body, loading());
    return Promise.all([
      api("/portal/prices/series", { query: { product_id: params.productId, market_id: params.marketId, days: 30 } }),
      api("/portal/subscriptions", { quiet: true }).catch(function () { return []; }),
    ]).then(function (out) {
      var series = out[0];
      var line = series.series[0] || { points: [], market: "" };
      var sub = out[1].filter(function (s) { return s.product_id === params.productId && (s.market_id === params.marketId || s.market_id === null); })[0];
      var last = line.points[line.points.length - 1];
      var prev = line.points[line.points.length - 2];
      var ch = last && prev ? changeText({ change: last.price - prev.price, change_pct: prev.price ? ((last.price - prev.price) * 100) / prev.price : null }) : { text: "", cls: "" };
      $("h1", priceEl).textContent = name(series, "product") + " · " + (line.market || "");
      var actions = h("div", { class: "tv-chips-row", "data-nav-section": "actions" });
      function subscribe(body2) {
        return api("/portal/subscriptions", { method: "POST", body: body2 }).then(function () {
          TV.toast(t("Subscribed: the TV tells you when a new price is published."), "ok");
          return enterPrice(params);
        });
      }
      if (sub) {
        actions.appendChild(h("span", { class: "chips-label", "data-subscribed": "true" }, t("Subscribed")));
        actions.appendChild(chip(t("Unsubscribe"), false, function () {
          api("/portal/subscriptions/" + sub.id, { method: "DELETE" }).then(function () { return enterPrice(params); });
        }, { id: "price-unsubscribe" }));
      } else {
        actions.appendChild(chip(t("Subscribe to every new price"), false, function () {
          subscribe({ product_id: params.productId, market_id: params.marketId });
        }, { id: "price-subscribe" }));
        actions.appendChild(chip(t("Only when it moves 10 %"), false, function () {
          subscribe({ product_id: params.productId, market_id: params.marketId, threshold_percent: 10 });
        }, { id: "price-subscribe-10" }));
      }
      fill(body,
        h("div", { class: "tv-facts-grid" },
          fact(t("Today"), last ? money(last.price) + " " + t("yuan") + " / " + series.unit : "—", "fact-first"),
          h("div", { class: "tv-fact fact-first", "data-nav": true, tabindex: "-1" }, h("h3", {}, t("Change since the day before")),
            h("p", { class: ch.cls }, ch.text || "—")),
          fact(t("30 days"), line.points.length ? money(Math.min.apply(null, line.points.map(function (p) { return p.price; }))) + " – " +
            money(Math.max.apply(null, line.points.map(function (p) { return p.price; }))) : "—", "fact-first")),
        chart(line.points, series.unit),
        actions);
      nav.focus($("#price-subscribe", body) || $("#price-unsubscribe", body) || nav.first(body));
    });
  }

  // ----------------------------------------------------------------------------------------- directory

  var dir = { list: null };
  var directoryEl;
  var departmentEl;

  function enterDirectory(params, back) {
    hint("");
    if (back && dir.list) return null;
    var list = $(".tv-list", directoryEl);
    fill(list, loading());
    return api("/portal/departments", { query: { limit: 200 } }).then(function (out) {
      dir.list = out.items;
      fill(list, out.items.length ? out.items.map(function (d) {
        return row(name(d), d.address, (d.phones || [])[0] || "", function () { nav.go("department", { id: d.id }); }, { "data-department-id": d.id });
      }) : empty(t("No departments yet.")));
    });
  }

  function enterDepartment(params) {
    var body = $(".tv-detail", departmentEl);
    fill(body, loading());
    return api("/portal/departments/" + params.id).then(function (d) {
      $("h1", departmentEl).textContent = name(d);
      fill(body,
        h("div", { class: "tv-fact fact-first", "data-nav": true, tabindex: "-1" }, h("h3", {}, t("Phone numbers")),
          (d.phones || []).map(function (p) { return h("div", { class: "tv-big" }, p); })),
        fact(t("Opening hours"), d.hours),
        fact(t("Address"), d.address),
        fact(t("What they do"), TV.locale === "en" && d.duties_en ? d.duties_en : d.duties));
      nav.focus(nav.first(body));
    });
  }

  // ------------------------------------------------------------------------------------------- notices

  var noticesEl;
  var noticeEl;

  function enterNotices() {
    hint("");
    var list = $(".tv-list", noticesEl);
    fill(list, loading());
    return api("/portal/notices", { query: { limit: 100 } }).then(function (out) {
      fill(list, out.items.length ? out.items.map(function (n) {
        return row((n.urgent ? "⚠ " : "") + (n.read ? "" : "● ") + name(n, "title"), n.publisher + " · " + TV.formatDateTime(n.published_at), null,
          function () { nav.go("notice", { id: n.id }); }, { "data-notice-id": n.id });
      }) : empty(t("No notices.")));
    });
  }

  function enterNotice(params) {
    var body = $(".tv-detail", noticeEl);
    fill(body, loading());
    return api("/portal/notices/" + params.id).then(function (n) {
      $("h1", noticeEl).textContent = name(n, "title");
      fill(body, h("p", { class: "tv-note" }, n.publisher + " · " + TV.formatDateTime(n.published_at)),
        fact(n.urgent ? t("Urgent notice") : t("Notice"), TV.locale === "en" && n.body_en ? n.body_en : n.body, "fact-first"));
      nav.focus(nav.first(body));
      if (!n.read) api("/portal/notices/" + n.id + "/read", { method: "POST", quiet: true }).then(poll, function () { return null; });
    });
  }

  // ------------------------------------------------------------------------ the urgent banner and badge

  // `done`: ids dismissed on this screen; a banner read that was on its way before the read was stored
  // still lists them, and must not bring them back (only a failed read does).
  var urgent = { el: null, current: null, queue: [], done: [] };

  function showUrgent() {
    var n = urgent.queue.shift();
    if (!n) return;
    urgent.current = n;
    var el = urgent.el;
    fill(el, h("div", { class: "tv-urgent-box" },
      h("div", { class: "tv-urgent-kicker" }, t("Urgent notice")),
      h("h2", { id: "urgent-title" }, name(n, "title")),
      h("p", {}, TV.locale === "en" && n.body_en ? n.body_en : n.body),
      h("p", { class: "tv-note" }, n.publisher + " · " + TV.formatDateTime(n.published_at)),
      h("button", { type: "button", class: "tv-btn", "data-nav": true, id: "urgent-ok", onclick: dismissUrgent }, t("OK, I have read it"))));
    el.setAttribute("data-notice-id", n.id);
    nav.openDialog(el, { onBack: function () { /* only OK dismisses an urgent notice */ } });
  }

  function dismissUrgent() {
    var n = urgent.current;
    if (!n) return;
    urgent.current = null;
    urgent.done.push(n.id);
    nav.closeDialog(urgent.el);
    api("/portal/notices/" + n.id + "/read", { method: "POST", quiet: true }).then(poll, function () {
      urgent.done = urgent.done.filter(function (id) { return id !== n.id; });
      return null;
    });
    if (urgent.queue.length) showUrgent();
  }

  /** While the banner is up, only OK (and the red key, handled before) do anything. */
  TV.urgentKey = function (key) {
    if (!urgent.current) return false;
    if (key === "ok") dismissUrgent();
    return true;
  };

  function poll() {
    return api("/portal/banner", { quiet: true, redirect: false }).then(function (b) {
      var badge = $("#notices-badge");
      var unread = (b.notices_unread || 0) + (b.price_alerts_unread || 0);
      badge.hidden = !unread;
      badge.textContent = String(unread);
      var shown = urgent.current ? [urgent.current.id] : [];
      var queued = urgent.queue.map(function (x) { return x.id; });
      (b.urgent || []).forEach(function (n) {
        if (shown.indexOf(n.id) < 0 && queued.indexOf(n.id) < 0 && urgent.done.indexOf(n.id) < 0) urgent.queue.push(n);
      });
      if (!urgent.current && urgent.queue.length) showUrgent();
      if (b.price_alerts_unread) showPriceAlerts();
      (TV.pollHooks || []).forEach(function (fn) { fn(); });
    }, function () { return null; });
  }
  TV.pollBanner = poll;

  /** A subscribed product got a new price (or moved past the threshold): a message on the screen. */
  function showPriceAlerts() {
    api("/portal/price-alerts", { query: { unread: true, limit: 5 }, quiet: true, redirect: false }).then(function (out) {
      out.items.forEach(function (a) {
        TV.toast(t("Price notice") + ": " + (TV.locale === "en" && a.message_en ? a.message_en : a.message), "info", 12000);
        api("/portal/price-alerts/" + a.id + "/read", { method: "POST", quiet: true }).catch(function () { return null; });
      });
    }, function () { return null; });
  }

  // -------------------------------------------------------------------------------------------- I'm OK

  function setupOk() {
    var tile = $("#tile-ok");
    if (!tile) return;
    api("/grid/ok", { quiet: true, redirect: false }).then(function (st) {
      if (!st || !st.enabled) return;
      tile.hidden = false;
      $(".tv-tiles").classList.add("has-ok");
      $(".tile-note", tile).textContent = st.answered ? t("Sent today") : t("Tell your grid worker you are well");
    }, function () { return null; });
    TV.tiles.ok = function () {
      api("/grid/ok", { method: "POST" }).then(function () {
        $(".tile-note", tile).textContent = t("Sent today");
        TV.openModal(t("I'm OK"), t("Your grid worker has been told that you are well today."));
      });
    };
  }

  // --------------------------------------------------------------------------------------------- setup

  TV.startPortal = function (theNav) {
    nav = theNav;
    servicesEl = screenEl("services", t("Government services"));
    servicesEl.appendChild(h("div", { class: "tv-cols" },
      h("div", { class: "tv-side", "data-nav-section": "categories" }), h("div", { class: "tv-list", "data-nav-section": "services" })));
    serviceEl = screenEl("service", "");
    serviceEl.appendChild(h("div", { class: "tv-detail" }));
    searchEl = screenEl("search", t("Search"));
    searchEl.appendChild(h("div", { class: "tv-t9" }, h("div", { class: "tv-t9-digits", "aria-live": "polite" }),
      h("div", { class: "tv-t9-pad" }, Object.keys(T9_KEYS).map(function (d) { return h("span", {}, h("b", {}, d), T9_KEYS[d]); }))));
    searchEl.appendChild(h("div", { class: "tv-list tv-search-results", "data-nav-section": "results" }));
    $(".tv-list", searchEl).style.height = "calc(100% - 9rem)";
    jobsEl = screenEl("jobs", t("Jobs"));
    $("h1", jobsEl).appendChild(h("small", {}));
    jobsEl.appendChild(h("div", { class: "tv-filters" }));
    jobsEl.appendChild(h("div", { class: "tv-list", "data-nav-section": "jobs" }));
    jobEl = screenEl("job", "");
    jobEl.appendChild(h("div", { class: "tv-detail" }));
    pricesEl = screenEl("prices", t("Produce prices"));
    $("h1", pricesEl).appendChild(h("small", {}));
    pricesEl.appendChild(h("div", { class: "tv-cols" },
      h("div", { class: "tv-side", "data-nav-section": "markets" }), h("div", { class: "tv-list", "data-nav-section": "products" })));
    priceEl = screenEl("price", "");
    priceEl.appendChild(h("div", { class: "tv-detail" }));
    directoryEl = screenEl("directory", t("Department phones"));
    directoryEl.appendChild(h("div", { class: "tv-list", "data-nav-section": "departments" }));
    departmentEl = screenEl("department", "");
    departmentEl.appendChild(h("div", { class: "tv-detail" }));
    noticesEl = screenEl("notices", t("Notices"));
    noticesEl.appendChild(h("div", { class: "tv-list", "data-nav-section": "notices" }));
    noticeEl = screenEl("notice", "");
    noticeEl.appendChild(h("div", { class: "tv-detail" }));
    [jobsEl, directoryEl, noticesEl].forEach(function (el) { $(".tv-list", el).classList.add("tv-list-full"); });

    function digitsToSearch(key) {
      if (/^[0-9]$/.test(key)) { TV.startSearch(key); return true; }
      return false;
    }
    nav.register("services", { el: servicesEl, enter: enterServices, key: digitsToSearch,
      first: function () { return $('[aria-pressed="true"]', servicesEl); } });
    nav.register("service", { el: serviceEl, enter: enterService });
    nav.register("search", { el: searchEl, enter: function () { hint(t("Back deletes a digit")); }, key: searchKey });
    nav.register("jobs", { el: jobsEl, enter: enterJobs, first: function () { return $('.tv-chip[aria-pressed="true"]', jobsEl); } });
    nav.register("job", { el: jobEl, enter: enterJob });
    nav.register("prices", { el: pricesEl, enter: enterPrices, first: function () { return $('[aria-pressed="true"]', pricesEl); } });
    nav.register("price", { el: priceEl, enter: enterPrice });
    nav.register("directory", { el: directoryEl, enter: enterDirectory });
    nav.register("department", { el: departmentEl, enter: enterDepartment });
    nav.register("notices", { el: noticesEl, enter: enterNotices });
    nav.register("notice", { el: noticeEl, enter: enterNotice });
    ["services", "jobs", "prices", "directory", "notices"].forEach(function (s) {
      TV.tiles[s] = function () { nav.go(s); };
    });

    urgent.el = h("div", { id: "tv-urgent", class: "tv-urgent", role: "alertdialog", "aria-modal": "true",
      "aria-labelledby": "urgent-title", hidden: true });
    document.body.appendChild(urgent.el);
    setupOk();
    poll();
    listen();
  };

  // ------------------------------------------------------------- push (server-sent events), else polls

  var POLL_MS = 20000; // without push: what every TV did before
  var SAFETY_POLL_MS = 120000; // with push: a slow poll still catches what no nudge announced
  var pollTimer = null;

  function pollEvery(ms) {
    if (pollTimer) clearInterval(pollTimer);
    pollTimer = setInterval(poll, ms);
  }

  function messagesNow() {
    (TV.pollHooks || []).forEach(function (fn) { fn(); });
  }

  /**
   * One EventSource for the banner and the household's messages (/portal/events). Old engines
   * without EventSource, a stream the server ended (`bye`: logged out, too many screens) or one that
   * cannot open fall back to the 20 s poll.
   */
  function listen() {
    if (typeof window.EventSource !== "function") { pollEvery(POLL_MS); return; }
    var es;
    try {
      es = new window.EventSource("/api/v1/portal/events");
    } catch (e) {
      pollEvery(POLL_MS);
      return;
    }
    TV.events = es;
    pollEvery(SAFETY_POLL_MS);
    es.addEventListener("notices", function () { poll(); });
    es.addEventListener("mine", function () { poll(); });
    es.addEventListener("messages", messagesNow);
    es.addEventListener("hello", function () { poll(); }); // after a reconnect: whatever was missed
    es.addEventListener("bye", function () {
      es.close();
      pollEvery(POLL_MS);
      poll();
    });
    es.onerror = function () {
      if (es.readyState === 2) pollEvery(POLL_MS); // CLOSED: it will not reconnect by itself
    };
  }
}());

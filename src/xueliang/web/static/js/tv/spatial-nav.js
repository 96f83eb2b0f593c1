// Spatial navigation for the remote: the next focus is worked out from where elements sit on the screen,
// never from hand-wired neighbours, so a new screen needs no navigation code of its own.
//
//  - Focusable: elements with data-nav (and the language links) that are shown.
//  - Sections: a container with data-nav-section remembers its last focused item; moving into it from
//    outside lands on that item rather than on the nearest one.
//  - Screens: go(name, params) opens a screen over the current one, back() returns to the previous one
//    with its focus and scroll positions restored; back() on the first screen (home) does nothing.
//  - Dialogs: openDialog(el) keeps the focus inside `el` (arrows, Tab, a stray click) until it closes.
(function () {
  "use strict";

  var TV = window.XLTV = window.XLTV || {};
  var ITEMS = "[data-nav], .lang a";

  function shown(el) {
    if (!el || !document.documentElement.contains(el) || el.closest("[hidden]")) return false;
    return el.offsetParent !== null || getComputedStyle(el).position === "fixed";
  }

  function center(r) { return { x: r.left + r.width / 2, y: r.top + r.height / 2 }; }

  /**
   * The best candidate in direction `dir` from rectangle `r`: candidates must lie beyond the current
   * centre in that direction; those overlapping the current one across the axis ("in line") win, then
   * the shortest distance along the axis plus a penalty for the distance across it (for ones in line,
   * between the top or left edges, so a tall tile leads to the top one of the tiles beside it).
   */
  function nearest(r, dir, candidates) {
    var c = center(r);
    var best = null;
    var bestScore = Infinity;
    candidates.forEach(function (el) {
      var q = el.getBoundingClientRect();
      if (!q.width && !q.height) return;
      var d = center(q);
      var main;
      var cross;
      var inLine;
      if (dir === "left" || dir === "right") {
        if (dir === "right" ? d.x <= c.x + 1 : d.x >= c.x - 1) return;
        main = dir === "right" ? q.left - r.right : r.left - q.right;
        inLine = q.top < r.bottom - 1 && q.bottom > r.top + 1;
        cross = inLine ? Math.abs(q.top - r.top) : Math.abs(d.y - c.y); // in line: align the tops (reading order)
      } else {
        if (dir === "down" ? d.y <= c.y + 1 : d.y >= c.y - 1) return;
        main = dir === "down" ? q.top - r.bottom : r.top - q.bottom;
        inLine = q.left < r.right - 1 && q.right > r.left + 1;
        cross = inLine ? Math.abs(q.left - r.left) : Math.abs(d.x - c.x);
      }
      var score = Math.max(main, 0) + cross * (inLine ? 0.3 : 2) + (inLine ? 0 : 100000);
      if (score < bestScore) { bestScore = score; best = el; }
    });
    return best;
  }

  /** Scrolls the scrollable ancestors of `el` (up to `stop`) just enough to show it, with a margin. */
  function reveal(el, stop) {
    var pad = 24;
    var node = el.parentElement;
    while (node && node !== document.body) {
      var style = getComputedStyle(node);
      if ((style.overflowY === "auto" || style.overflowY === "scroll") && node.scrollHeight > node.clientHeight) {
        var box = node.getBoundingClientRect();
        var r = el.getBoundingClientRect();
        var bottomPad = Number(node.getAttribute("data-nav-pad-bottom") || pad);
        if (r.bottom > box.bottom - bottomPad) node.scrollTop += r.bottom - box.bottom + bottomPad;
        else if (r.top < box.top + pad) node.scrollTop -= box.top + pad - r.top;
      }
      if ((style.overflowX === "auto" || style.overflowX === "scroll") && node.scrollWidth > node.clientWidth) {
        var row = node.getBoundingClientRect();
        var q = el.getBoundingClientRect();
        if (q.right > row.right - pad) node.scrollLeft += q.right - row.right + pad;
        else if (q.left < row.left + pad) node.scrollLeft -= row.left + pad - q.left;
      }
      if (node === stop) break;
      node = node.parentElement;
    }
  }

  function scrollers(root) {
    var list = [root];
    Array.prototype.forEach.call(root.querySelectorAll("*"), function (el) {
      if (el.scrollTop || el.scrollLeft) list.push(el);
    });
    return list.map(function (el) { return { el: el, top: el.scrollTop, left: el.scrollLeft }; });
  }

  /**
   * createNav({chrome: [elements always navigable beside the screen, e.g. the top bar]}).
   * register(name, {el, enter(params, back) -> optional Promise, leave(), key(key) -> handled, first()}).
   */
  function createNav(options) {
    var chrome = (options && options.chrome) || [];
    var screens = {};
    var stack = [];
    var dialogs = [];
    var listeners = [];

    function current() { return stack.length ? stack[stack.length - 1] : null; }
    function dialog() { return dialogs.length ? dialogs[dialogs.length - 1] : null; }

    function roots() {
      var d = dialog();
      if (d) return [d.el];
      var cur = current();
      var screen = cur ? screens[cur.name] : null;
      if (screen && screen.fullscreen) return [screen.el];
      return chrome.concat(screen ? [screen.el] : []);
    }

    function items() {
      var out = [];
      roots().forEach(function (root) {
        Array.prototype.forEach.call(root.querySelectorAll(ITEMS), function (el) {
          if (shown(el) && !el.disabled) out.push(el);
        });
      });
      return out;
    }

    function sectionOf(el) { return el ? el.closest("[data-nav-section]") : null; }

    function focus(el) {
      if (!el) return false;
      try { el.focus({ preventScroll: true }); } catch (e) { el.focus(); }
      var cur = current();
      reveal(el, cur ? screens[cur.name].el : null);
      var section = sectionOf(el);
      if (section) section.navLast = el;
      return document.activeElement === el;
    }

    function inScope(el) {
      return roots().some(function (root) { return root.contains(el); });
    }

    /** The remembered item of a section, when it is still there to take the focus. */
    function remembered(section) {
      var last = section && section.navLast;
      return last && shown(last) && inScope(last) && !last.disabled ? last : null;
    }

    /** Moves the focus one step in `dir`; returns whether it moved. */
    function move(dir) {
      var all = items();
      var cur = document.activeElement;
      // Nothing focused yet (a screen still loading): its first item, never a jump into the top bar.
      if (all.indexOf(cur) < 0) return focus(firstIn(roots()[roots().length - 1]));
      var best = nearest(cur.getBoundingClientRect(), dir, all.filter(function (el) { return el !== cur; }));
      if (!best) return false;
      var section = sectionOf(best);
      if (section && section !== sectionOf(cur) && remembered(section)) best = remembered(section);
      return focus(best);
    }

    function firstIn(root) {
      if (!root) return null;
      var preferred = root.querySelector("[data-nav-default]");
      if (preferred && shown(preferred)) return preferred;
      var list = Array.prototype.filter.call(root.querySelectorAll(ITEMS), function (el) { return shown(el) && !el.disabled; });
      return list[0] || null;
    }

    function show(name) {
      Object.keys(screens).forEach(function (key) { screens[key].el.hidden = key !== name; });
      document.body.setAttribute("data-screen", name);
      listeners.forEach(function (fn) { fn(name); });
    }

    function settle(result, then) {
      if (result && typeof result.then === "function") result.then(then, then);
      else then();
    }

    /** Opens screen `name` over the current one (params go to its enter()). */
    function go(name, params) {
      var cur = current();
      if (cur) {
        cur.focus = document.activeElement;
        cur.scroll = scrollers(screens[cur.name].el);
        if (screens[cur.name].leave) screens[cur.name].leave(false);
      }
      var entry = { name: name, params: params || {}, focus: null, scroll: [] };
      stack.push(entry);
      show(name);
      var screen = screens[name];
      var result = screen.enter ? screen.enter(entry.params, false) : null;
      settle(result, function () {
        if (current() !== entry || dialog()) return;
        if (!inScope(document.activeElement) || document.activeElement === document.body) {
          focus((screen.first && screen.first()) || firstIn(screen.el));
        }
      });
      return result;
    }

    /** Back to the previous screen, focus and scroll as they were; false on the first screen. */
    function back() {
      if (stack.length < 2) return false;
      var leaving = stack.pop();
      if (screens[leaving.name].leave) screens[leaving.name].leave(true);
      var entry = current();
      show(entry.name);
      var screen = screens[entry.name];
      var result = screen.enter ? screen.enter(entry.params, true) : null;
      settle(result, function () {
        (entry.scroll || []).forEach(function (s) { if (document.documentElement.contains(s.el)) { s.el.scrollTop = s.top; s.el.scrollLeft = s.left; } });
        var target = entry.focus && shown(entry.focus) ? entry.focus : null;
        if (target) {
          try { target.focus({ preventScroll: true }); } catch (e) { target.focus(); }
        } else {
          focus((screen.first && screen.first()) || firstIn(screen.el));
        }
      });
      return true;
    }

    /** Back until screen `name` is the current one (e.g. home after a finished booking). */
    function backTo(name) {
      while (stack.length > 2 && current().name !== name && stack[stack.length - 2].name !== name) {
        var skipped = stack.pop(); // screens in between are left without being shown again
        if (screens[skipped.name].leave) screens[skipped.name].leave(true);
      }
      if (current().name !== name) back();
    }

    /** Shows `el` as a dialog: the focus stays inside until closeDialog(); onBack defaults to closing. */
    function openDialog(el, opts) {
      var o = opts || {};
      dialogs.push({ el: el, returnTo: document.activeElement, onBack: o.onBack || null });
      el.hidden = false;
      el.setAttribute("aria-modal", "true");
      focus(o.focus || firstIn(el));
    }

    function closeDialog(el) {
      var d = dialog();
      if (!d || (el && d.el !== el)) return;
      dialogs.pop();
      d.el.hidden = true;
      var back = d.returnTo;
      if (back && shown(back) && inScope(back)) {
        try { back.focus({ preventScroll: true }); } catch (e) { back.focus(); }
      } else {
        var cur = current();
        focus(cur ? (screens[cur.name].first && screens[cur.name].first()) || firstIn(screens[cur.name].el) : null);
      }
    }

    /** One remote key; returns whether it was used. */
    function handle(key) {
      var d = dialog();
      if (d) {
        if (key === "back") { if (d.onBack) d.onBack(); else closeDialog(); return true; }
        if (key === "ok") { if (d.el.contains(document.activeElement)) document.activeElement.click(); return true; }
        if (key === "up" || key === "down" || key === "left" || key === "right") move(key);
        return true; // nothing else reaches the page behind a dialog
      }
      var cur = current();
      var screen = cur ? screens[cur.name] : null;
      if (screen && screen.key && screen.key(key)) return true;
      if (key === "up" || key === "down" || key === "left" || key === "right") { move(key); return true; }
      if (key === "ok") {
        var el = document.activeElement;
        if (el && el !== document.body && inScope(el)) el.click();
        return true;
      }
      if (key === "back") { back(); return true; }
      return false;
    }

    /** Tab and stray focus never leave an open dialog. */
    function trap(e) {
      var d = dialog();
      if (!d) return;
      if (e.type === "keydown" && e.key === "Tab") {
        e.preventDefault();
        var list = items();
        var i = list.indexOf(document.activeElement);
        focus(list[(i + (e.shiftKey ? list.length - 1 : 1)) % list.length]);
      } else if (e.type === "focusin" && !d.el.contains(e.target)) {
        // Another modal layer above this one (the alarm, which the red key opens over anything) keeps it.
        var layer = e.target.closest ? e.target.closest('[aria-modal="true"]') : null;
        if (!layer || layer === d.el) focus(firstIn(d.el));
      }
    }
    document.addEventListener("keydown", trap, true);
    document.addEventListener("focusin", trap);

    return {
      register: function (name, screen) { screens[name] = screen; },
      onShow: function (fn) { listeners.push(fn); },
      go: go,
      back: back,
      backTo: backTo,
      move: move,
      focus: focus,
      items: items,
      first: firstIn,
      handle: handle,
      openDialog: openDialog,
      closeDialog: closeDialog,
      dialogOpen: function () { return Boolean(dialog()); },
      current: function () { var c = current(); return c ? c.name : null; },
      depth: function () { return stack.length; },
    };
  }

  TV.nearest = nearest;
  TV.createNav = createNav;
}());

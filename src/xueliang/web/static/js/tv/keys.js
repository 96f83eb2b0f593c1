// Remote keys: one key map per set-top box family, so the same action (Back, OK, a colour key, a digit)
// works whatever box sends it. The codes we map, and where they come from, are listed in docs/tv.md.
//
// remoteKey(event) -> "up" | "down" | "left" | "right" | "ok" | "back" | "red" | "green" | "yellow" |
// "blue" | "0".."9" | "del" | "pageup" | "pagedown" | "home" | null. The W3C key names (event.key) come
// first; then the keyCode in the table of the box's own family, then in the other families' tables (a
// box rarely says what it is, and the families do not disagree on any code we map).
(function () {
  "use strict";

  var TV = window.XLTV = window.XLTV || {};

  /** event.key values (UI Events KeyboardEvent key values, plus the names older engines used). */
  var KEY_NAMES = {
    ArrowUp: "up", Up: "up", ArrowDown: "down", Down: "down", ArrowLeft: "left", Left: "left",
    ArrowRight: "right", Right: "right", Enter: "ok", Accept: "ok", Select: "ok",
    Backspace: "back", Escape: "back", Esc: "back", GoBack: "back", BrowserBack: "back", XF86Back: "back",
    ColorF0Red: "red", ColorF1Green: "green", ColorF2Yellow: "yellow", ColorF3Blue: "blue",
    Red: "red", Green: "green", Yellow: "yellow", Blue: "blue",
    PageUp: "pageup", PageDown: "pagedown", ChannelUp: "pageup", ChannelDown: "pagedown",
    Delete: "del", Clear: "del", Home: "home", BrowserHome: "home",
  };

  function digits(base) {
    var out = {};
    for (var i = 0; i < 10; i += 1) out[base + i] = String(i);
    return out;
  }

  function merge() {
    var out = {};
    for (var i = 0; i < arguments.length; i += 1) {
      var table = arguments[i];
      Object.keys(table).forEach(function (k) { out[k] = table[k]; });
    }
    return out;
  }

  var ARROWS_OK = { 37: "left", 38: "up", 39: "right", 40: "down", 13: "ok" };

  /** keyCode tables per family. */
  var FAMILIES = {
    // Chromium and every desktop browser (W3C/legacy keyCodes): Backspace and Escape are Back.
    w3c: merge(ARROWS_OK, digits(48), digits(96), { 8: "back", 27: "back", 33: "pageup", 34: "pagedown", 46: "del", 36: "home" }),
    // HbbTV (ETSI TS 102 796, keys as in OIPF DAE / CEA-2014 VK_ constants); LG webOS sends the same codes.
    hbbtv: merge(ARROWS_OK, digits(48), { 461: "back", 403: "red", 404: "green", 405: "yellow", 406: "blue", 33: "pageup", 34: "pagedown" }),
    // Samsung Tizen: Back is 10009, the colour keys as HbbTV (after tizen.tvinputdevice.registerKey).
    tizen: merge(ARROWS_OK, digits(48), { 10009: "back", 403: "red", 404: "green", 405: "yellow", 406: "blue", 427: "pageup", 428: "pagedown" }),
    // Chinese IPTV boxes (China Telecom / Unicom / Mobile EPG middleware on Huawei, ZTE, Fiberhome boxes):
    // Back is 8 on most, 640 (0x280) on some, 27 or 461 on others; colour keys 0x113..0x116.
    iptv_cn: merge(ARROWS_OK, digits(48), {
      8: "back", 27: "back", 461: "back", 640: "back", 275: "red", 276: "green", 277: "yellow", 278: "blue",
      33: "pageup", 34: "pagedown", 257: "pageup", 258: "pagedown", 127: "del", 36: "home", 292: "home",
    }),
  };
  var ORDER = ["w3c", "hbbtv", "tizen", "iptv_cn"];

  /** The family of this box, from its user agent; unknown boxes are treated as W3C (Chromium). */
  function detectFamily(ua) {
    var s = String(ua || "");
    if (/HbbTV|OIPF|webOS|Web0S|NetCast/i.test(s)) return "hbbtv";
    if (/Tizen|SMART-TV/i.test(s)) return "tizen";
    if (/iPanel|Ipanel|EIS|Hi3798|IPTV|STB|Huawei.*EC|ZTE.*B8|SkyworthBox/i.test(s)) return "iptv_cn";
    return "w3c";
  }

  var family = detectFamily(navigator.userAgent);

  /** The action of a keydown event, or null for keys the TV does not use. */
  function remoteKey(e) {
    var byName = KEY_NAMES[e.key];
    if (byName) return byName;
    if (e.key && e.key.length === 1 && e.key >= "0" && e.key <= "9") return e.key;
    var code = e.keyCode || e.which || 0;
    var own = FAMILIES[family][code];
    if (own) return own;
    for (var i = 0; i < ORDER.length; i += 1) {
      var other = FAMILIES[ORDER[i]][code];
      if (other) return other;
    }
    return null;
  }

  /** On boxes that deliver the colour and number keys only when asked (HbbTV keyset, Tizen). */
  function claimKeys() {
    try {
      var tizen = window.tizen;
      if (tizen && tizen.tvinputdevice) {
        ["ColorF0Red", "ColorF1Green", "ColorF2Yellow", "ColorF3Blue", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
          .forEach(function (k) { tizen.tvinputdevice.registerKey(k); });
      }
      var mgr = document.getElementById("oipf-app-manager");
      if (mgr && mgr.getOwnerApplication) {
        // RED 0x1 + GREEN 0x2 + YELLOW 0x4 + BLUE 0x8 + NAVIGATION 0x10 + VCR 0x20 + NUMERIC 0x100
        mgr.getOwnerApplication(document).privateData.keyset.setValue(0x13f);
      }
    } catch (e) {
      // Not such a box, or it refused: the keys it sends anyway still work.
    }
  }

  TV.keys = { FAMILIES: FAMILIES, KEY_NAMES: KEY_NAMES, detectFamily: detectFamily, family: family,
    remoteKey: remoteKey, claimKeys: claimKeys };
}());

// A camera's privacy page on the TV (templates/tv_privacy.html): the blocks form one column; ▲ ▼ move
// the focus (and scroll it into view), OK on "Back" or the remote's Back key returns to the TV home.
(function () {
  "use strict";

  var TV = window.XLTV;
  TV.wireCommon();
  TV.keys.claimKeys();
  var column = TV.$$("[data-nav]", document.getElementById("pv-main"));
  var back = document.getElementById("pv-back");

  function home() { location.assign("/tv"); }

  function focusAt(index) {
    var el = column[Math.max(0, Math.min(column.length - 1, index))];
    el.focus();
    if (el.scrollIntoView) el.scrollIntoView({ block: "nearest" });
  }

  back.addEventListener("click", home);
  document.addEventListener("keydown", function (e) {
    var key = TV.keys.remoteKey(e);
    if (!key) return;
    var at = column.indexOf(document.activeElement);
    if (key === "down" || key === "up") {
      e.preventDefault();
      focusAt(at < 0 ? 0 : at + (key === "down" ? 1 : -1));
    } else if (key === "back") {
      e.preventDefault();
      home();
    } else if (key === "ok" && document.activeElement === back) {
      e.preventDefault();
      home();
    }
  });
  focusAt(1);  // the first fact; Back is one step up
}());

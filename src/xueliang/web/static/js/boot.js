// The page's boot data (who is logged in, the messages of the language, settings) as window.XL, read
// from the page's <script type="application/json" id="xl-boot"> block. A classic script in <head>:
// it runs before the ES modules and the TV's scripts, and being a file rather than inline script it
// lets the Content Security Policy forbid inline script altogether (issue 14). ES5, for old TVs.
(function () {
  var block = document.getElementById("xl-boot");
  window.XL = block ? JSON.parse(block.textContent || "{}") : {};
})();

// placeholder
(function () {
  "use strict";
}());

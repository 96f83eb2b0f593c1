// PC console: cameras (region tree, filtered list, SVG map, detail, video wall), user admin, audit trail.
// Sections are built only when the caller's permissions allow them (the server renders the same rule).
// Each section is a module in console/ (cameras.js wires region-tree, camera-list, camera-detail and
// wall); alarms (queue, detail, history, the raise button): alarm-console.js.

import { initAlarmBell, initAlarmHistory, initRaiseButton } from "./alarm-console.js";
import { can, wireCommon } from "./api.js";
import { $ } from "./dom.js";
import { initAudit } from "./console/audit.js";
import { initCameras } from "./console/cameras.js";
import { initUsers } from "./console/users.js";

wireCommon();
const section = ($(".app") || document.body).dataset.section;

if (section === "cameras") {
  if (can("list_cameras")) initCameras();
  else if (can("read_audit")) location.replace("/audit");
} else if (section === "audit" && can("read_audit")) {
  initAudit();
} else if (section === "users" && can("manage_users")) {
  initUsers();
}
if (section === "alarms" && can("handle_alarms")) initAlarmHistory();
else if (can("handle_alarms") && !(section === "cameras" && can("list_cameras"))) initAlarmBell();
if (can("raise_alarm") && !can("handle_alarms")) initRaiseButton();

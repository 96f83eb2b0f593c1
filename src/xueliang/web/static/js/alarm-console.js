// Alarms on the PC console (the modules are in alarm-console/).
//
// Staff (permission handle_alarms): a live feed over the alarms WebSocket (feed.js) drives the queue panel,
// the badge on the "Alarms" tab, the map markers, and on `raised` the sound, a toast and the nearest
// cameras (alarm.cameras, covering first) opened live on the wall at once (panel.js, bell.js). The detail
// panel (detail.js, detail-view.js, detail-form.js) acknowledges, dispatches, marks on scene, resolves or
// marks false alarm as the server's workflow table allows (workflow.js; the server's 409 message is shown
// when someone else acted first), takes notes, and activates / stands down the village plan with its guard
// points on the map, manned or not, updated live from task events (mobilization.js).
// The /alarms page: history with filters, CSV export, and per-station figures with a bar chart (history.js,
// stats.js). People who may raise but not handle alarms (residents...) get a "One-click alarm" button
// instead (raise.js).

export { initAlarmBell } from "./alarm-console/bell.js";
export { initAlarmHistory } from "./alarm-console/history.js";
export { initAlarmConsole } from "./alarm-console/panel.js";
export { initRaiseButton } from "./alarm-console/raise.js";

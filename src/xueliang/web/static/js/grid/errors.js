// The grid's refusals in the reader's language: the same keys as src/xueliang/grid/errors.py, each
// answer's `params` filled in (zh-CN in web/locale, `make i18n`). The API's English `message` is the
// fallback for a key this table lacks. Importing this module also teaches api() these texts, so a
// refused request shows them in its toast.

import { addErrorTexts } from "../api.js";
import { t } from "../i18n.js";

const TEXTS = {
  "route.not_a_village": (p) => t("A route runs through one village.", p),
  "route.too_few_points": (p) => t("A route needs a line of at least 2 points.", p),
  "route.no_days": (p) => t("A route runs on at least one day.", p),
  "route.bad_window": (p) => t("The time window ends before it starts.", p),
  "route.outside_village": (p) => t("Outside the village {village}: line points {points}; checkpoints {checkpoints}.", p),
  "route.bad_place": (p) => t("A checkpoint names a place outside this village.", p),
  "route.bad_worker": (p) => t("The worker must be a grid worker of this village.", p),
  "route.bad_checkpoint": (p) => t("Checkpoint {id} is not on this route.", p),
  "record.uuid_taken": (p) => t("This record's id belongs to another record.", p),
  "checkin.no_gps": (p) => t("A check-in needs a GPS fix.", p),
  "checkin.qr_no_gps": (p) => t("A QR check-in also needs a GPS fix near the point.", p),
  "checkin.too_far": (p) => t("You are {distance} m from {checkpoint}; a check-in must be within {limit} m.", p),
  "qr.not_ours": (p) => t("This QR code is not a checkpoint code of this platform.", p),
  "qr.bad_signature": (p) => t("The QR code's signature is wrong (forged or altered).", p),
  "qr.other_checkpoint": (p) => t("This QR code belongs to another checkpoint.", p),
  "photo.too_large": (p) => t("The photo is {size} MB; at most {limit} MB.", p),
  "photo.not_an_image": (p) => t("The file is not an image (JPEG, PNG or WebP).", p),
  "photo.format": (p) => t("{format} images are not accepted; JPEG, PNG or WebP.", p),
  "care.bad_worker": (p) => t("The worker must be a grid worker of this village.", p),
  "incident.may_not_move": (p) => t("You may not move this incident.", p),
  "incident.bad_transition": (p) => t("An incident that is {state} cannot become {to}.",
    { state: incidentState(p.state), to: incidentState(p.to) }),
  "incident.assignee_required": (p) => t("Choose whom to assign.", p),
  "incident.bad_assignee": (p) => t("The assignee must be staff of this area.", p),
  "tour.bad_camera": (p) => t("Cameras not in {region}: {cameras}.", p),
  "tour_run.bad_transition": (p) => t("A tour run that is {state} cannot become {to}.",
    { state: runState(p.state), to: runState(p.to) }),
  "tour_run.finished": (p) => t("This tour run is finished.", p),
  "stats.bad_range": (p) => t("Choose a range of at most a year.", p),
  "coverage.no_boundary": (p) => t("The village has no usable boundary: {reason}", p),
};

function incidentState(state) {
  return {
    reported: t("Reported"), assigned: t("Assigned"), in_hand: t("In hand"), resolved: t("Resolved"),
    checked: t("Checked"),
  }[state] || state;
}

function runState(state) {
  return { running: t("Running"), paused: t("Paused"), done: t("Done"), missed: t("Not done in time") }[state] || state;
}

/** The words for a refusal answer ({key, params, message, code}: an error body or an offline batch's
 * per-record result); "" where the key is not ours. */
export function catalogued(body) {
  const text = body && TEXTS[body.key];
  return text ? text(body.params || {}) : "";
}

/** Like `catalogued`, falling back to the server's message (or code). */
export function refusalText(body) {
  return catalogued(body) || (body && (body.message || body.code)) || "";
}

addErrorTexts(catalogued);

"""The grid's refusals in one table: each has a key, the stable error `code` clients branch on, and its
English text with named parameters (the API's `message`). The answer also carries the `key` and the
`params`, so the pages say the same thing in the reader's language: static/js/grid/errors.js holds the
same keys with the texts wrapped for translation (zh-CN in web/locale, `make i18n`), as the alarm console
does for its codes (alarm-console/words.js). A key missing from the JS table falls back to `message`.

Raise with `raise refused(BadRoute, "route.no_days")`; the class gives the HTTP status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from xueliang.core.errors import AppError


@dataclass(frozen=True)
class Refusal:
    code: str
    text: str  # English, str.format with the params


CATALOGUE: dict[str, Refusal] = {
    # who and what (answered like the rest of the platform, see PLAIN: api.js's generic words show)
    "forbidden": Refusal("forbidden", "your role may not do this"),
    "region.not_found": Refusal("not_found", "region not found"),
    "village.not_found": Refusal("not_found", "village not found"),
    "route.not_found": Refusal("not_found", "route not found"),
    "checkpoint.not_found": Refusal("not_found", "checkpoint not found"),
    "person.not_found": Refusal("not_found", "person not found"),
    "incident.not_found": Refusal("not_found", "incident not found"),
    "photo.not_found": Refusal("not_found", "photo not found"),
    "tour.not_found": Refusal("not_found", "tour not found"),
    "tour_run.not_found": Refusal("not_found", "tour run not found"),
    "tour.camera_not_in_tour": Refusal("not_found", "camera not in this tour"),
    "camera.not_found": Refusal("not_found", "camera not found"),
    "tile.not_found": Refusal("not_found", "no such tile"),
    "ok_check.not_found": Refusal("not_found", "no daily OK check for this household"),
    # routes
    "route.not_a_village": Refusal("not_a_village", "a route runs through one village"),
    "route.too_few_points": Refusal("too_few_points", "a route needs a line of at least 2 points"),
    "route.no_days": Refusal("no_days", "a route runs on at least one day"),
    "route.bad_window": Refusal("bad_window", "the time window ends before it starts"),
    "route.outside_village": Refusal(
        "outside_village", "outside the village {village}: line points {points}; checkpoints {checkpoints}"
    ),
    "route.bad_place": Refusal("bad_place", "a checkpoint names a place outside this village"),
    "route.bad_worker": Refusal("bad_worker", "the worker must be a grid worker of this village"),
    "route.bad_checkpoint": Refusal("bad_checkpoint", "checkpoint {id} is not on this route"),
    # check-ins, visits, reports (also the per-record answers of an offline batch)
    "record.uuid_taken": Refusal("uuid_taken", "this uuid belongs to another record"),
    "checkin.no_gps": Refusal("no_gps", "a check-in needs a GPS fix"),
    "checkin.qr_no_gps": Refusal("no_gps", "a QR check-in also needs a GPS fix near the point"),
    "checkin.too_far": Refusal(
        "too_far", "you are {distance} m from {checkpoint}; a check-in must be within {limit} m"
    ),
    "qr.not_ours": Refusal("qr_invalid", "this QR code is not a checkpoint code of this platform"),
    "qr.bad_signature": Refusal("qr_invalid", "the QR code's signature is wrong (forged or altered)"),
    "qr.other_checkpoint": Refusal("qr_invalid", "this QR code belongs to another checkpoint"),
    "photo.too_large": Refusal("photo_too_large", "the photo is {size} MB; at most {limit} MB"),
    "photo.not_an_image": Refusal("not_an_image", "the file is not an image (JPEG, PNG or WebP)"),
    "photo.format": Refusal("not_an_image", "{format} images are not accepted; JPEG, PNG or WebP"),
    # care registry and incidents
    "care.bad_worker": Refusal("bad_worker", "the worker must be a grid worker of this village"),
    "incident.may_not_move": Refusal("forbidden", "you may not move this incident"),
    "incident.bad_transition": Refusal("bad_transition", "an incident that is {state} cannot become {to}"),
    "incident.assignee_required": Refusal("assignee_required", "whom to assign: assignee_id"),
    "incident.bad_assignee": Refusal("bad_assignee", "the assignee must be staff of this area"),
    # video patrol tours
    "tour.bad_camera": Refusal("bad_camera", "cameras not in {region}: {cameras}"),
    "tour_run.bad_transition": Refusal("bad_transition", "a tour run that is {state} cannot become {to}"),
    "tour_run.finished": Refusal("bad_transition", "this tour run is finished"),
    # board, statistics, coverage
    "stats.bad_range": Refusal("bad_range", "since..until: a range of at most a year"),
    "coverage.no_boundary": Refusal("invalid", "the village has no usable boundary: {reason}"),
}

# Answered exactly as the rest of the platform answers them (a missing or out-of-scope object: 404 with
# only code and message; a role without the right): no key, the pages' generic words apply.
PLAIN = frozenset({"forbidden"})

E = TypeVar("E", bound=AppError)
Param = str | int | float


def refused(cls: type[E], key: str, **params: Param) -> E:
    """The exception `cls` (its status) for the catalogued refusal `key`, its text filled in."""
    entry = CATALOGUE[key]
    error = cls(entry.text.format(**params), code=entry.code)
    if key not in PLAIN and entry.code != "not_found":
        error.extra = {"key": key, "params": params}
    return error


def refusal_fields(error: AppError) -> dict[str, Any]:
    """`key` and `params` of a catalogued refusal (for answers that embed one, like an offline batch's
    per-record results); empty for any other error."""
    key = error.extra.get("key")
    params = error.extra.get("params")
    return {"key": key, "params": params} if isinstance(key, str) and isinstance(params, dict) else {}

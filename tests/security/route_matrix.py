"""Every route of the node (API, WebSocket, pages, ops) with the policy it is meant to have (issue 14).

`tests/security/test_route_matrix.py` walks the routes of the app as each process role builds it and
fails on a route that no registry here names, names twice, or names but no longer exists: a route a
domain adds is refused until someone says who may use it. The roles are written out by hand, not taken
from `accounts/policy.py`, so a policy bug cannot hide behind itself; the test then asks the node.

Policies:
- `public`: no session needed, with the reason;
- `token`: a signed, short-lived token in the URL stands for the session (stream and download links);
- `user`: any logged-in user, for their own things (their sessions, their household's bookings...);
- `roles`: these roles may use it at all (everyone else: 403, or 404 where the route hides itself);
  a list it answers is filtered to the caller's area;
- `scoped`: an object that belongs to an area (`kind`): besides the roles, a caller of another area
  gets exactly what a missing id gets (404, same body). `checked` names where that is asked with real
  requests: "here" (test_route_matrix.py, from the facts it makes) or the domain's own matrix test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Kind = Literal["public", "token", "user", "roles", "scoped"]

# One user per role in the demo county (region codes in seed/demo.py, portal/seed.py, hospital/seed.py).
ROLE_USER = {
    "admin": "admin",
    "operator": "op-qingxi",
    "duty_officer": "duty-v01",
    "grid_worker": "gw-01",
    "volunteer": "vol-v01-1",
    "resident": "res-v01",
    "auditor": "auditor",
    "hospital_staff": "hs-rmyy",
    "portal_editor": "editor",
}
EVERYONE = frozenset(ROLE_USER)


@dataclass(frozen=True)
class Policy:
    kind: Kind
    roles: frozenset[str] = EVERYONE
    why: str = ""
    # scoped: what the area decides on, where the other-area request is made, and how to make it here
    scopes: str = ""
    checked: str = ""
    params: dict[str, str] = field(default_factory=dict)  # path parameter -> fact name or literal
    body: dict[str, Any] | None = None
    foreign: str = "op-shimen"  # a user of another area who has the role
    query: dict[str, str] = field(default_factory=dict)  # what a GET needs to get past validation


def public(why: str) -> Policy:
    return Policy("public", why=why)


def token(why: str) -> Policy:
    return Policy("token", why=why)


def user(why: str = "") -> Policy:
    return Policy("user", why=why)


def roles(*names: str, query: dict[str, str] | None = None, why: str = "") -> Policy:
    unknown = set(names) - EVERYONE
    assert not unknown, unknown
    return Policy("roles", roles=frozenset(names), query=query or {}, why=why)


# The admin role belongs to the county (or province) level: there is no admin of another area in one
# node, so an admin-only route on an object has no other-area caller to ask; its area is the node's.
def county_admin() -> Policy:
    return roles("admin", why="county admins only; the node's county is their area")


def scoped(
    scopes: str,
    who: frozenset[str],
    checked: str = "here",
    *,
    params: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
    foreign: str = "op-shimen",
    query: dict[str, str] | None = None,
) -> Policy:
    return Policy(
        "scoped",
        roles=who,
        scopes=scopes,
        checked=checked,
        params=params or {},
        body=body,
        foreign=foreign,
        query=query or {},
    )


# Role sets, as the product defines them (docs/architecture.md, DESIGN.md section 1).
ADMIN = frozenset({"admin"})
ALARM_STAFF = frozenset({"admin", "operator", "duty_officer"})  # the alarm console
VIDEO = frozenset({"admin", "operator", "duty_officer", "grid_worker", "resident"})  # live view
RECORDED = frozenset({"admin", "operator", "duty_officer"})  # recordings and exports
GB = frozenset({"admin", "operator"})
GRID_READ = frozenset({"admin", "operator", "duty_officer", "grid_worker"})
GRID_MANAGE = frozenset({"admin", "operator", "duty_officer"})
REPORTERS = frozenset({"admin", "operator", "duty_officer", "grid_worker", "volunteer"})
BOOKERS = frozenset({"admin", "resident", "grid_worker"})
HOSPITAL = frozenset({"admin", "hospital_staff"})
PORTAL_EDIT = frozenset({"admin", "portal_editor"})
NOTICES = frozenset({"admin", "operator", "duty_officer"})

A = "/api/v1"
DAY = {"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T01:00:00Z"}
CHECKED_BY_CAMERA_MATRIX = "tests/accounts/test_policy_matrix.py"
CHECKED_BY_GRID = "tests/grid/test_privacy.py"
CHECKED_BY_HOSPITAL = "tests/hospital/test_api.py"
CHECKED_BY_PORTAL = "tests/portal/test_access.py"
CHECKED_BY_NOTICES = "tests/portal/test_notices.py"
CHECKED_BY_GB = "tests/gb28181/test_api.py"
CHECKED_BY_SESSIONS = "tests/security/test_mfa_sessions.py"
CHECKED_BY_APPROVALS = "tests/privacy/test_approvals.py"

Registry = dict[tuple[str, str], Policy]

ACCOUNTS: Registry = {
    ("POST", f"{A}/auth/login"): public("the login itself"),
    ("POST", f"{A}/auth/token"): public("devices' bearer token, from credentials"),
    ("POST", f"{A}/auth/logout"): public("ends a session if there is one; harmless without"),
    ("POST", f"{A}/auth/mfa/enroll"): public("checks the password itself (login may need MFA first)"),
    ("POST", f"{A}/auth/mfa/confirm"): public("checks the password and the code itself"),
    ("GET", f"{A}/me"): user(),
    ("PUT", f"{A}/me/locale"): user(),
    ("GET", f"{A}/me/mfa"): user(),
    ("GET", f"{A}/me/sessions"): user(),
    ("DELETE", f"{A}/me/sessions/{{session_id}}"): scoped("own session", EVERYONE, CHECKED_BY_SESSIONS),
    ("GET", f"{A}/users"): roles("admin"),
    ("POST", f"{A}/users"): roles("admin"),
    ("GET", f"{A}/users/{{user_id}}"): county_admin(),
    ("PATCH", f"{A}/users/{{user_id}}"): county_admin(),
    ("DELETE", f"{A}/users/{{user_id}}/mfa"): county_admin(),
    ("GET", f"{A}/users/{{user_id}}/sessions"): county_admin(),
    ("DELETE", f"{A}/users/{{user_id}}/sessions"): county_admin(),
    ("DELETE", f"{A}/users/{{user_id}}/sessions/{{session_id}}"): county_admin(),
}

REGIONS: Registry = {
    ("GET", f"{A}/regions"): user("the caller's subtree and its ancestors"),
    ("GET", f"{A}/regions/map"): user("the caller's subtree as GeoJSON"),
    ("GET", f"{A}/regions/{{region_id}}"): scoped("region", EVERYONE, CHECKED_BY_CAMERA_MATRIX),
    ("GET", f"{A}/audit"): roles("admin", "auditor"),
    ("GET", f"{A}/audit/verify"): roles("admin", "auditor"),
}

CAMERAS: Registry = {
    ("GET", f"{A}/cameras"): roles(*VIDEO),
    ("POST", f"{A}/cameras"): roles("admin"),
    ("GET", f"{A}/cameras/health"): roles(*VIDEO),
    ("GET", f"{A}/cameras/events"): roles(*VIDEO),
    ("WS", f"{A}/cameras/events/ws"): user("changes of the cameras in the caller's scope (maybe none)"),
    ("GET", f"{A}/cameras/{{camera_id}}"): scoped("camera", VIDEO, CHECKED_BY_CAMERA_MATRIX),
    ("POST", f"{A}/cameras/{{camera_id}}/open"): scoped("camera", VIDEO, CHECKED_BY_CAMERA_MATRIX),
    ("GET", f"{A}/cameras/{{camera_id}}/still.jpg"): scoped("camera", VIDEO, CHECKED_BY_CAMERA_MATRIX),
    ("POST", f"{A}/cameras/{{camera_id}}/token"): scoped("camera", VIDEO, params={"camera_id": "camera"}),
    ("PATCH", f"{A}/cameras/{{camera_id}}"): county_admin(),
    ("DELETE", f"{A}/cameras/{{camera_id}}"): county_admin(),
    ("GET", f"{A}/cameras/{{camera_id}}/timeline"): scoped(
        "camera", RECORDED, params={"camera_id": "camera"}, query=DAY
    ),
    # privacy masks and the camera's privacy page (issue 14)
    ("GET", f"{A}/cameras/{{camera_id}}/masks"): scoped("camera", GB, params={"camera_id": "camera"}),
    ("PUT", f"{A}/cameras/{{camera_id}}/masks"): scoped(
        "camera", GB, params={"camera_id": "camera"}, body={"masks": []}
    ),
    ("GET", f"{A}/cameras/{{camera_id}}/privacy"): scoped("camera", VIDEO, params={"camera_id": "camera"}),
    ("PUT", f"{A}/cameras/{{camera_id}}/privacy"): county_admin(),
    ("POST", f"{A}/gb28181/cameras/{{camera_id}}/ptz"): scoped(
        "camera", GB | {"duty_officer"}, params={"camera_id": "camera"}, body={"action": "stop"}
    ),
}

LIVE: Registry = {
    ("GET", f"{A}/live/rtsp/credentials"): roles(*VIDEO),
    ("WS", f"{A}/live/{{camera_id:int}}/ws"): token("the camera's stream token (cameras/{id}/open)"),
    ("GET", f"{A}/live/{{camera_id:int}}/hls/index.m3u8"): token("the camera's stream token"),
    ("GET", f"{A}/live/{{camera_id:int}}/hls/init.mp4"): token("the camera's stream token"),
    ("GET", f"{A}/live/{{camera_id:int}}/hls/init{{epoch:int}}.mp4"): token("the camera's stream token"),
    ("GET", f"{A}/live/{{camera_id:int}}/hls/seg{{msn:int}}.m4s"): token("the camera's stream token"),
    ("WS", f"{A}/live/{{camera_id:int}}/audio/ws"): token("the camera's stream token (its sound)"),
    ("GET", f"{A}/live/{{camera_id:int}}/hls/video.m3u8"): token("the camera's stream token"),
    ("GET", f"{A}/live/{{camera_id:int}}/hls/audio.m3u8"): token("the camera's stream token (its sound)"),
    ("GET", f"{A}/live/{{camera_id:int}}/hls/audio-init{{epoch:int}}.mp4"): token("the stream token"),
    ("GET", f"{A}/live/{{camera_id:int}}/hls/audio-seg{{msn:int}}.m4s"): token("the camera's stream token"),
    ("GET", f"{A}/live/{{camera_id:int}}/hls/part{{msn:int}}.{{part:int}}.m4s"): token(
        "the camera's stream token"
    ),
    # --role web only: a live GET that reached a web process goes to the media process owning the camera
    ("GET", f"{A}/live/{{camera_id}}/{{rest:path}}"): token("redirect only; the owner checks the token"),
}

RECORDINGS: Registry = {
    ("GET", f"{A}/recordings"): roles(*RECORDED, query={"camera_id": "1", **DAY}),
    ("GET", f"{A}/recordings/health"): roles(*RECORDED),
    ("POST", f"{A}/recordings/playback"): roles(*RECORDED),
    ("GET", f"{A}/recordings/locks"): roles(*RECORDED),
    ("POST", f"{A}/recordings/locks"): roles(*RECORDED),
    ("DELETE", f"{A}/recordings/locks/{{lock_id}}"): scoped("lock", RECORDED, params={"lock_id": "lock"}),
    ("PUT", f"{A}/recordings/cameras/{{camera_id}}/retention"): scoped(
        "camera", RECORDED, params={"camera_id": "camera"}, body={"days": 7}
    ),
    ("GET", f"{A}/recordings/exports"): roles(*RECORDED),
    ("POST", f"{A}/recordings/exports"): roles(*RECORDED),
    ("GET", f"{A}/recordings/exports/{{export_id}}"): scoped(
        "export", RECORDED, params={"export_id": "export"}
    ),
    ("GET", f"{A}/recordings/exports/{{export_id}}/files/{{name}}"): token("the export's download token"),
    # two-person rule (issue 14): a request to lift masks / export a sensitive camera, and its decision
    ("GET", f"{A}/recordings/approvals"): user("the caller's own requests; staff: those of their area"),
    ("POST", f"{A}/recordings/approvals"): scoped("camera", RECORDED, CHECKED_BY_APPROVALS),
    ("GET", f"{A}/recordings/approvals/{{approval_id}}"): scoped("camera", RECORDED, CHECKED_BY_APPROVALS),
    ("POST", f"{A}/recordings/approvals/{{approval_id}}/decision"): scoped(
        "camera", RECORDED, CHECKED_BY_APPROVALS
    ),
    ("GET", f"{A}/playback/{{camera_id}}/plan.json"): token("the playback token (recordings/playback)"),
    ("GET", f"{A}/playback/{{camera_id}}/index.m3u8"): token("the playback token"),
    ("GET", f"{A}/playback/{{camera_id}}/at.mp4"): token("the playback token"),
    ("GET", f"{A}/playback/{{camera_id}}/init/{{segment_id}}.mp4"): token("the playback token"),
    ("GET", f"{A}/playback/{{camera_id}}/audio/{{segment_id}}.m4a"): token("the playback token (sound)"),
    ("GET", f"{A}/playback/{{camera_id}}/chunk/{{segment_id}}/{{first:int}}-{{last:int}}.m4s"): token(
        "the playback token"
    ),
    # the masked variant of playback (privacy masks burnt in), for viewers who may not lift the masks
    **{
        ("GET", f"{A}/playback/masked/{{camera_id}}/{rest}"): token("the masked playback token")
        for rest in (
            "plan.json",
            "index.m3u8",
            "at.mp4",
            "init/{segment_id}.mp4",
            "chunk/{segment_id}/{first:int}-{last:int}.m4s",
        )
    },
}

ALARMS: Registry = {
    ("GET", f"{A}/alarms"): user("staff: their area's alarms; a household: its own presses"),
    ("POST", f"{A}/alarms"): user("a press: a household's own, staff at a place of their area"),
    ("WS", f"{A}/alarms/ws"): user("staff views for staff, status for households"),
    ("GET", f"{A}/alarms/export.csv"): roles(*ALARM_STAFF),
    ("GET", f"{A}/alarms/stats"): roles(*ALARM_STAFF),
    ("GET", f"{A}/alarms/tasks/mine"): user("the caller's own mobilization tasks"),
    ("GET", f"{A}/alarms/devices"): user("buttons of the caller's household / area"),
    ("POST", f"{A}/alarms/devices"): user("only the device's own area may register it"),
    ("POST", f"{A}/alarms/tasks/{{task_id}}/in-position"): scoped(
        "own task", EVERYONE, params={"task_id": "task"}, foreign="vol-v06-1"
    ),
    ("GET", f"{A}/alarms/plans/{{region_id}}"): scoped(
        "region", ALARM_STAFF, params={"region_id": "village"}
    ),
    ("PUT", f"{A}/alarms/plans/{{region_id}}"): scoped(
        "region", ALARM_STAFF, params={"region_id": "village"}, body={"points": []}
    ),
    ("GET", f"{A}/alarms/stations/{{region_id}}/config"): scoped(
        "region", ALARM_STAFF, params={"region_id": "township"}
    ),
    ("PUT", f"{A}/alarms/stations/{{region_id}}/config"): scoped(
        "region", ALARM_STAFF, params={"region_id": "township"}, body={"escalate_after_s": [60]}
    ),
    ("GET", f"{A}/alarms/{{alarm_id}}"): scoped("alarm", EVERYONE, params={"alarm_id": "alarm"}),
    **{
        ("POST", f"{A}/alarms/{{alarm_id}}/{action}"): scoped(
            "alarm", ALARM_STAFF, params={"alarm_id": "alarm"}, body=body
        )
        for action, body in (
            ("acknowledge", {}),
            ("dispatch", {"to": "patrol"}),
            ("false-alarm", {}),
            ("notes", {"note": "x"}),
            ("on-scene", {}),
            ("resolve", {}),
            ("mobilize", None),
            ("stand-down", None),
        )
    },
    ("GET", f"{A}/alarms/{{alarm_id}}/mobilization"): scoped(
        "alarm", ALARM_STAFF, params={"alarm_id": "alarm"}
    ),
}

GRID: Registry = {
    ("GET", f"{A}/grid/today"): roles("admin", "grid_worker"),
    ("POST", f"{A}/grid/sync"): roles("admin", "grid_worker"),
    ("GET", f"{A}/grid/ok"): user("a household's own 'I am OK' question"),
    ("POST", f"{A}/grid/ok"): user("a household's own answer"),
    ("WS", f"{A}/grid/ws"): roles(*GRID_READ),  # the board for staff, a worker's own route
    ("GET", f"{A}/grid/routes"): roles(*GRID_READ),
    ("GET", f"{A}/grid/care"): roles(*GRID_READ),
    ("GET", f"{A}/grid/incidents"): roles(*GRID_READ),
    ("GET", f"{A}/grid/tours"): roles(*GRID_MANAGE),
    ("GET", f"{A}/grid/board"): roles(*GRID_MANAGE),
    ("GET", f"{A}/grid/stats"): roles(*GRID_MANAGE),
    ("GET", f"{A}/grid/stats.csv"): roles(*GRID_MANAGE),
    ("GET", f"{A}/grid/basemap"): roles(*GRID_READ),  # the map's layers for the grid pages
    ("GET", f"{A}/grid/tiles/{{z}}/{{x}}/{{y}}.png"): roles(*GRID_READ),  # the node's offline tiles
    ("GET", f"{A}/grid/coverage"): scoped("region", GRID_MANAGE, CHECKED_BY_GRID),
    ("POST", f"{A}/grid/care"): scoped("region", GRID_MANAGE, CHECKED_BY_GRID),
    ("POST", f"{A}/grid/routes"): scoped("region", GRID_MANAGE, CHECKED_BY_GRID),
    ("POST", f"{A}/grid/tours"): scoped("region", GRID_MANAGE, CHECKED_BY_GRID),
    ("POST", f"{A}/grid/incidents"): scoped("region", REPORTERS, CHECKED_BY_GRID),
    ("POST", f"{A}/grid/checkins"): scoped("checkpoint", frozenset({"grid_worker"}), CHECKED_BY_GRID),
    ("POST", f"{A}/grid/visits"): scoped("care person", frozenset({"grid_worker"}), CHECKED_BY_GRID),
    ("GET", f"{A}/grid/care/{{person_id}}"): scoped("care person", GRID_READ, CHECKED_BY_GRID),
    ("PUT", f"{A}/grid/care/{{person_id}}"): scoped("care person", GRID_MANAGE, CHECKED_BY_GRID),
    ("GET", f"{A}/grid/routes/{{route_id}}"): scoped("route", GRID_READ, CHECKED_BY_GRID),
    ("PUT", f"{A}/grid/routes/{{route_id}}"): scoped("route", GRID_MANAGE, CHECKED_BY_GRID),
    ("DELETE", f"{A}/grid/routes/{{route_id}}"): scoped("route", GRID_MANAGE, CHECKED_BY_GRID),
    ("GET", f"{A}/grid/routes/{{route_id}}/qr.png"): scoped("route", GRID_READ, CHECKED_BY_GRID),
    ("GET", f"{A}/grid/incidents/{{incident_id}}"): scoped("incident", GRID_READ, CHECKED_BY_GRID),
    ("POST", f"{A}/grid/incidents/{{incident_id}}/transition"): scoped(
        "incident", GRID_MANAGE, CHECKED_BY_GRID
    ),
    ("POST", f"{A}/grid/incidents/{{incident_id}}/photos"): scoped("incident", GRID_READ, CHECKED_BY_GRID),
    ("GET", f"{A}/grid/incidents/{{incident_id}}/photos/{{photo_id}}"): scoped(
        "incident", GRID_READ, CHECKED_BY_GRID
    ),
    ("GET", f"{A}/grid/tours/{{tour_id}}"): scoped("tour", GRID_MANAGE, CHECKED_BY_GRID),
    ("PUT", f"{A}/grid/tours/{{tour_id}}"): scoped("tour", GRID_MANAGE, CHECKED_BY_GRID),
    ("POST", f"{A}/grid/tours/{{tour_id}}/runs"): scoped("tour", GRID_MANAGE, CHECKED_BY_GRID),
    ("GET", f"{A}/grid/tour-runs/{{run_id}}"): scoped("tour run", GRID_MANAGE, CHECKED_BY_GRID),
    ("POST", f"{A}/grid/tour-runs/{{run_id}}/marks"): scoped("tour run", GRID_MANAGE, CHECKED_BY_GRID),
    ("POST", f"{A}/grid/tour-runs/{{run_id}}/{{state}}"): scoped("tour run", GRID_MANAGE, CHECKED_BY_GRID),
}

PORTAL: Registry = {
    **{
        ("GET", f"{A}/portal/{p}"): user("published county content, the same for everyone")
        for p in (
            "search",
            "categories",
            "departments",
            "services",
            "jobs",
            "jobs/cities",
            "prices",
            "prices/products",
            "prices/markets",
            "prices/movers",
            "prices/series",
            "banner",
        )
    },
    ("GET", f"{A}/portal/departments/{{department_id}}"): user("published county content"),
    ("GET", f"{A}/portal/services/{{service_id}}"): user("published county content"),
    ("GET", f"{A}/portal/jobs/{{job_id}}"): user("published county content"),
    ("GET", f"{A}/portal/subscriptions"): user("the caller's own price subscriptions"),
    ("POST", f"{A}/portal/subscriptions"): user("the caller's own price subscriptions"),
    ("DELETE", f"{A}/portal/subscriptions/{{subscription_id}}"): scoped(
        "own subscription", EVERYONE, CHECKED_BY_PORTAL
    ),
    ("GET", f"{A}/portal/price-alerts"): user("the caller's own price alerts"),
    ("POST", f"{A}/portal/price-alerts/{{alert_id}}/read"): scoped("own alert", EVERYONE, CHECKED_BY_PORTAL),
    ("GET", f"{A}/portal/notices"): user("notices to the caller's area"),
    ("GET", f"{A}/portal/notices/urgent"): user("urgent notices to the caller's area"),
    ("GET", f"{A}/portal/events"): user("pushes: notices to the caller's area, own reads, own household"),
    ("GET", f"{A}/portal/notices/managed"): roles(*NOTICES),
    ("POST", f"{A}/portal/notices"): scoped("region", NOTICES, CHECKED_BY_NOTICES),
    ("GET", f"{A}/portal/notices/{{notice_id}}"): scoped("notice", EVERYONE, CHECKED_BY_NOTICES),
    ("POST", f"{A}/portal/notices/{{notice_id}}/read"): scoped("notice", EVERYONE, CHECKED_BY_NOTICES),
    ("GET", f"{A}/portal/notices/{{notice_id}}/reads"): scoped("notice", NOTICES, CHECKED_BY_NOTICES),
    ("POST", f"{A}/portal/notices/{{notice_id}}/withdraw"): scoped("notice", NOTICES, CHECKED_BY_NOTICES),
    ("GET", f"{A}/portal/admin/services"): roles(*PORTAL_EDIT),
    ("POST", f"{A}/portal/admin/services"): scoped("department", PORTAL_EDIT, CHECKED_BY_PORTAL),
    ("PATCH", f"{A}/portal/admin/services/{{service_id}}"): scoped(
        "department", PORTAL_EDIT, CHECKED_BY_PORTAL
    ),
    ("POST", f"{A}/portal/admin/services/{{service_id}}/{{action}}"): scoped(
        "department", PORTAL_EDIT, CHECKED_BY_PORTAL
    ),
    ("GET", f"{A}/portal/admin/jobs"): roles(*PORTAL_EDIT),
    ("POST", f"{A}/portal/admin/jobs"): scoped("department", PORTAL_EDIT, CHECKED_BY_PORTAL),
    ("PATCH", f"{A}/portal/admin/jobs/{{job_id}}"): scoped("department", PORTAL_EDIT, CHECKED_BY_PORTAL),
    ("POST", f"{A}/portal/admin/jobs/{{job_id}}/{{action}}"): scoped(
        "department", PORTAL_EDIT, CHECKED_BY_PORTAL
    ),
    ("POST", f"{A}/portal/admin/departments"): roles("admin"),
    ("PATCH", f"{A}/portal/admin/departments/{{department_id}}"): scoped(
        "department", PORTAL_EDIT, CHECKED_BY_PORTAL
    ),
    ("POST", f"{A}/portal/admin/prices"): roles(*PORTAL_EDIT),
    ("POST", f"{A}/portal/admin/import/{{what}}"): scoped("department", PORTAL_EDIT, CHECKED_BY_PORTAL),
    ("GET", f"{A}/portal/admin/editors/{{user_id}}"): roles("admin"),
    ("PUT", f"{A}/portal/admin/editors/{{user_id}}"): roles("admin"),
}

HOSPITAL_API: Registry = {
    ("GET", f"{A}/hospital/hospitals"): user("the county's hospitals"),
    ("GET", f"{A}/hospital/hospitals/{{hospital_id}}/departments"): user("the county's hospitals"),
    ("GET", f"{A}/hospital/departments/{{department_id}}/doctors"): user("the county's hospitals"),
    ("GET", f"{A}/hospital/departments/{{department_id}}/sessions"): user("open places"),
    ("GET", f"{A}/hospital/sessions/{{session_id}}"): user("open places"),
    ("POST", f"{A}/hospital/id-check"): scoped("household", BOOKERS, CHECKED_BY_HOSPITAL),
    ("POST", f"{A}/hospital/holds"): scoped("household", BOOKERS, CHECKED_BY_HOSPITAL),
    ("DELETE", f"{A}/hospital/holds/{{token}}"): token("the hold's own token"),
    ("GET", f"{A}/hospital/bookings"): user("the caller's household's bookings"),
    ("POST", f"{A}/hospital/bookings"): scoped("household", BOOKERS, CHECKED_BY_HOSPITAL),
    ("GET", f"{A}/hospital/bookings/{{booking_id}}"): scoped("household", EVERYONE, CHECKED_BY_HOSPITAL),
    **{
        ("POST", f"{A}/hospital/bookings/{{booking_id}}/{action}"): scoped(
            "household", EVERYONE, CHECKED_BY_HOSPITAL
        )
        for action in ("cancel", "confirm", "decline")
    },
    ("GET", f"{A}/hospital/messages"): user("the caller's household's messages"),
    ("POST", f"{A}/hospital/messages/{{message_id}}/read"): scoped(
        "household", EVERYONE, CHECKED_BY_HOSPITAL
    ),
    ("GET", f"{A}/hospital/staff/hospitals"): roles(*HOSPITAL),
    ("GET", f"{A}/hospital/staff/sessions"): roles(*HOSPITAL),
    ("GET", f"{A}/hospital/staff/day"): roles(*HOSPITAL),
    ("POST", f"{A}/hospital/staff/sessions"): scoped("hospital", HOSPITAL, CHECKED_BY_HOSPITAL),
    ("POST", f"{A}/hospital/staff/schedule"): scoped("hospital", HOSPITAL, CHECKED_BY_HOSPITAL),
    ("POST", f"{A}/hospital/staff/links"): roles("admin"),
    ("POST", f"{A}/hospital/staff/sessions/{{session_id}}/stop"): scoped(
        "hospital", HOSPITAL, CHECKED_BY_HOSPITAL
    ),
    **{
        ("POST", f"{A}/hospital/staff/bookings/{{booking_id}}/{action}"): scoped(
            "hospital", HOSPITAL, CHECKED_BY_HOSPITAL
        )
        for action in ("attended", "no-show")
    },
    ("GET", f"{A}/hospital/staff/bookings/{{booking_id}}/personal"): scoped(
        "hospital", HOSPITAL, CHECKED_BY_HOSPITAL
    ),
}

GB28181: Registry = {
    ("GET", f"{A}/gb28181/devices"): roles(*GB),
    ("POST", f"{A}/gb28181/devices"): scoped("region", GB, CHECKED_BY_GB),
    ("GET", f"{A}/gb28181/devices/{{device_pk}}"): scoped("device", GB, CHECKED_BY_GB),
    ("PUT", f"{A}/gb28181/devices/{{device_pk}}/password"): scoped("device", GB, CHECKED_BY_GB),
    ("PUT", f"{A}/gb28181/devices/{{device_pk}}/region"): scoped("device", GB, CHECKED_BY_GB),
    # upper platforms this node cascades to (GB/T 28181 cascade): county admins only
    ("GET", f"{A}/gb28181/uppers"): roles("admin"),
    ("POST", f"{A}/gb28181/uppers"): roles("admin"),
    ("GET", f"{A}/gb28181/uppers/{{upper_id}}"): county_admin(),
    ("PATCH", f"{A}/gb28181/uppers/{{upper_id}}"): county_admin(),
    ("DELETE", f"{A}/gb28181/uppers/{{upper_id}}"): county_admin(),
    ("GET", f"{A}/gb28181/uppers/{{upper_id}}/channels"): county_admin(),
    ("PUT", f"{A}/gb28181/uppers/{{upper_id}}/channels/{{camera_id}}"): county_admin(),
}

FEDERATION: Registry = {
    ("POST", f"{A}/federation/join"): public("a child node's enrolment: the one-time join token it carries"),
    ("GET", f"{A}/federation/anchor"): token("a child node's signed request (its key) stands for a session"),
    ("GET", f"{A}/federation/status"): roles("admin"),
}

PAGES: Registry = {
    ("GET", "/login"): public("the login page"),
    ("GET", "/account"): public("second-factor set-up needs only the password (MFA may be due before login)"),
    ("POST", "/account/totp-qr.svg"): public("draws the QR code of an otpauth://totp/ URI posted to it"),
    ("GET", "/lang/{locale}"): public("sets the language cookie; same-site paths only"),
    ("GET", "/m/offline"): public("what the phone's service worker shows offline"),
    ("GET", "/manifest.webmanifest"): public("the phone app's manifest"),
    ("GET", "/sw.js"): public("the phone app's service worker"),
    ("GET", "/healthz"): public("liveness for a supervisor"),
    ("GET", "/readyz"): public("readiness: database reachable, schema at heads; no data"),
    ("GET", "/metrics"): public("loopback or the configured bearer token only, else 404 (ops/metrics)"),
    ("GET", "/api/v1/openapi.json"): public("the published API description"),
    ("GET", "/api/v1/docs"): public("the API description's viewer"),
    ("GET", "/docs/oauth2-redirect"): public("part of the API description's viewer"),
    ("GET", "/static"): public("scripts, styles, images: no data"),
    # Page shells: they need a login (else 303 to /login); the API behind them decides the rest.
    **{("GET", p): user("a page shell; its data comes from the API") for p in ("/", "/audit", "/admin")},
    **{("GET", p): user("a page shell") for p in ("/alarms", "/tv", "/m", "/m/portal", "/portal")},
    ("GET", "/portal/qr.svg"): user("a QR code of a link the caller passes"),
    ("GET", "/playback"): roles(*RECORDED),
    ("GET", "/m/grid"): roles("admin", "grid_worker"),
    ("GET", "/grid"): roles(*GRID_MANAGE),
    ("GET", "/portal-admin"): roles(*(PORTAL_EDIT | NOTICES)),
    ("GET", "/portal-admin/preview"): roles(*(PORTAL_EDIT | NOTICES)),
    ("GET", "/hospital"): roles(*HOSPITAL),
    ("GET", "/approvals"): roles(*RECORDED),
    ("GET", "/cascade"): roles("admin"),
    ("GET", "/privacy/{camera_id}"): scoped("camera", VIDEO, params={"camera_id": "camera"}),
    ("GET", "/tv/privacy/{camera_id}"): scoped("camera", VIDEO, params={"camera_id": "camera"}),
    ("GET", "/masks/{camera_id}"): scoped("camera", GB, params={"camera_id": "camera"}),
    # the system page and its data (ops/system.py): county admins only
    ("GET", "/system"): roles("admin"),
    ("GET", "/api/v1/ops/system"): roles("admin"),
}

REGISTRIES: dict[str, Registry] = {
    "accounts": ACCOUNTS,
    "regions+audit": REGIONS,
    "cameras": CAMERAS,
    "live": LIVE,
    "recordings": RECORDINGS,
    "alarms": ALARMS,
    "grid": GRID,
    "portal": PORTAL,
    "hospital": HOSPITAL_API,
    "gb28181": GB28181,
    "federation": FEDERATION,
    "pages": PAGES,
}

"""The one access policy: role x region subtree x camera flags. Every route asks it.

Scope is a region path prefix. Objects outside scope are answered as missing (404) by callers."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, false, or_, true

from xueliang.accounts.models import Role
from xueliang.cameras.models import Camera
from xueliang.regions.models import Region


class Action(enum.StrEnum):
    list_cameras = "list_cameras"
    view_live = "view_live"
    view_recording = "view_recording"
    export_video = "export_video"
    control_ptz = "control_ptz"
    manage_cameras = "manage_cameras"
    manage_users = "manage_users"
    manage_regions = "manage_regions"
    read_audit = "read_audit"
    read_regions = "read_regions"
    raise_alarm = "raise_alarm"
    handle_alarms = "handle_alarms"


# What each role may do at all; the region scope then narrows where.
ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.admin: frozenset(Action) - {Action.raise_alarm},
    Role.operator: frozenset(
        {
            Action.list_cameras,
            Action.view_live,
            Action.view_recording,
            Action.export_video,
            Action.control_ptz,
            Action.read_regions,
            Action.handle_alarms,
        }
    ),
    Role.duty_officer: frozenset(
        {
            Action.list_cameras,
            Action.view_live,
            Action.view_recording,
            Action.control_ptz,
            Action.read_regions,
            Action.handle_alarms,
            Action.raise_alarm,
        }
    ),
    Role.grid_worker: frozenset(
        {Action.list_cameras, Action.view_live, Action.read_regions, Action.raise_alarm}
    ),
    Role.volunteer: frozenset({Action.read_regions, Action.raise_alarm}),
    Role.resident: frozenset(
        {Action.list_cameras, Action.view_live, Action.read_regions, Action.raise_alarm}
    ),
    Role.auditor: frozenset({Action.read_audit, Action.read_regions}),
}

# Roles that see only cameras flagged for public view.
PUBLIC_ONLY = frozenset({Role.resident})
CAMERA_ACTIONS = frozenset(
    {
        Action.list_cameras,
        Action.view_live,
        Action.view_recording,
        Action.export_video,
        Action.control_ptz,
        Action.manage_cameras,
    }
)


@dataclass(frozen=True)
class Principal:
    """The caller as the policy sees it: role and the path of the region they are bound to."""

    user_id: int
    username: str
    role: Role
    region_id: int
    region_path: str
    household_id: int | None = None


def allows(p: Principal, action: Action) -> bool:
    return action in ROLE_ACTIONS[p.role]


def in_scope(p: Principal, region_path: str) -> bool:
    return region_path.startswith(p.region_path)


def may_see_region(p: Principal, region_path: str) -> bool:
    """A region is visible if it is in the subtree, or an ancestor (so a tree can be drawn to it)."""
    return allows(p, Action.read_regions) and (
        in_scope(p, region_path) or p.region_path.startswith(region_path)
    )


def may_camera(p: Principal, action: Action, camera: Camera, camera_region_path: str) -> bool:
    if not allows(p, action) or not in_scope(p, camera_region_path):
        return False
    if p.role in PUBLIC_ONLY:
        return action in (Action.list_cameras, Action.view_live) and camera.public_view and camera.enabled
    return True


def camera_filter(p: Principal, action: Action) -> ColumnElement[bool]:
    """The same decision as `may_camera`, as a SQL condition over Camera joined with Region."""
    if not allows(p, action):
        return false()
    cond: ColumnElement[bool] = Region.path.startswith(p.region_path, autoescape=True)
    if p.role in PUBLIC_ONLY:
        if action not in (Action.list_cameras, Action.view_live):
            return false()
        cond = and_(cond, Camera.public_view.is_(True), Camera.enabled.is_(True))
    return and_(cond, true())


# --- Alarms -------------------------------------------------------------------------------------
# Staff who handle alarms (operator: township subtree, duty officer: village, admin: county) read and
# act on alarms in their subtree. A resident reads only their own household's alarms; anyone reads
# the alarms they raised themselves. Nobody else reads an alarm, and out of scope answers 404.


def may_handle_alarm(p: Principal, alarm_region_path: str) -> bool:
    return allows(p, Action.handle_alarms) and in_scope(p, alarm_region_path)


def may_read_alarm(
    p: Principal, alarm_region_path: str, household_id: int | None, raised_by: int | None
) -> bool:
    if may_handle_alarm(p, alarm_region_path):
        return True
    if raised_by is not None and raised_by == p.user_id:
        return True
    return p.role is Role.resident and household_id is not None and household_id == p.household_id


def alarm_filter(
    p: Principal,
    region_path: SQLColumnExpression[str],
    household_id: SQLColumnExpression[int | None],
    raised_by: SQLColumnExpression[int | None],
) -> ColumnElement[bool]:
    """The same decision as `may_read_alarm`, as SQL over the alarm's columns."""
    own: ColumnElement[bool] = raised_by == p.user_id
    if allows(p, Action.handle_alarms):
        return or_(region_path.startswith(p.region_path, autoescape=True), own)
    if p.role is Role.resident and p.household_id is not None:
        return or_(household_id == p.household_id, own)
    return own


def may_raise_alarm_for(p: Principal, household_id: int | None, household_region_path: str) -> bool:
    """A resident raises for their own household only; staff for any household in their subtree."""
    if not allows(p, Action.raise_alarm) and not allows(p, Action.handle_alarms):
        return False
    if p.role is Role.resident:
        return household_id is not None and household_id == p.household_id
    return in_scope(p, household_region_path)


def may_configure_alarms(p: Principal, region_path: str) -> bool:
    """Station timeouts, devices and mobilization plans: county admins, and operators for their
    own township."""
    return p.role in (Role.admin, Role.operator) and in_scope(p, region_path)

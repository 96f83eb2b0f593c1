"""The one access policy: role x region subtree x camera flags. Every route asks it.

Scope is a region path prefix. Objects outside scope are answered as missing (404) by callers."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, true

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

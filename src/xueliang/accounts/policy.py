"""The one access policy: role x region subtree x object flags. Every route asks it.

This module holds who the caller is (`Principal`), what each role may do at all (the role x permission
table) and the region scope, each as a check and, where lists need it, as SQL. The rules for one kind
of object build on these in their own domain: `cameras/policy.py`, `alarms/policy.py`. Scope is a
region path prefix. Objects outside scope are answered as missing (404) by callers."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import ColumnElement, SQLColumnExpression

from xueliang.accounts.models import Role


class Permission(enum.StrEnum):
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
    # grid management (issue 16): walk routes and visit; plan routes, tours and handle reports; read
    # the care registry (scope narrowed further in grid/policy.py); report a field incident
    patrol = "patrol"
    manage_grid = "manage_grid"
    read_care = "read_care"
    report_incident = "report_incident"
    # hospital booking (issue 17): hold and book places for a household; run a hospital's sessions,
    # day lists and attendance (scoped to the staff's hospital in hospital/policy.py)
    book_hospital = "book_hospital"
    manage_hospital = "manage_hospital"
    # TV service portal (issue 17): edit services, jobs, the directory and prices (scoped to the
    # editor's departments in portal/policy.py); publish notices to one's own area
    manage_portal = "manage_portal"
    publish_notices = "publish_notices"


# What each role may do at all; the region scope then narrows where.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.admin: frozenset(Permission) - {Permission.raise_alarm},
    Role.operator: frozenset(
        {
            Permission.list_cameras,
            Permission.view_live,
            Permission.view_recording,
            Permission.export_video,
            Permission.control_ptz,
            Permission.read_regions,
            Permission.handle_alarms,
            Permission.manage_grid,
            Permission.read_care,
            Permission.report_incident,
            Permission.publish_notices,
        }
    ),
    Role.duty_officer: frozenset(
        {
            Permission.list_cameras,
            Permission.view_live,
            Permission.view_recording,
            Permission.control_ptz,
            Permission.read_regions,
            Permission.handle_alarms,
            Permission.raise_alarm,
            Permission.manage_grid,
            Permission.read_care,
            Permission.report_incident,
            Permission.publish_notices,
        }
    ),
    Role.grid_worker: frozenset(
        {
            Permission.list_cameras,
            Permission.view_live,
            Permission.read_regions,
            Permission.raise_alarm,
            Permission.patrol,
            Permission.read_care,
            Permission.report_incident,
            Permission.book_hospital,
        }
    ),
    Role.volunteer: frozenset({Permission.read_regions, Permission.raise_alarm}),
    Role.resident: frozenset(
        {
            Permission.list_cameras,
            Permission.view_live,
            Permission.read_regions,
            Permission.raise_alarm,
            Permission.book_hospital,
        }
    ),
    Role.auditor: frozenset({Permission.read_audit, Permission.read_regions}),
    Role.hospital_staff: frozenset({Permission.manage_hospital}),
    Role.portal_editor: frozenset({Permission.manage_portal}),
}


@dataclass(frozen=True)
class Principal:
    """The caller as the policy sees it: role and the path of the region they are bound to."""

    user_id: int
    username: str
    role: Role
    region_id: int
    region_path: str
    household_id: int | None = None


def allows(p: Principal, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[p.role]


def in_scope(p: Principal, region_path: str) -> bool:
    return region_path.startswith(p.region_path)


def may_see_region(p: Principal, region_path: str) -> bool:
    """A region is visible if it is in the subtree, or an ancestor (so a tree can be drawn to it)."""
    return allows(p, Permission.read_regions) and (
        in_scope(p, region_path) or p.region_path.startswith(region_path)
    )


def scope_filter(p: Principal, region_path: SQLColumnExpression[str]) -> ColumnElement[bool]:
    """The same decision as `in_scope`, as SQL over a region path column."""
    return region_path.startswith(p.region_path, autoescape=True)

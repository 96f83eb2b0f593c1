"""The access policy's camera rules, with two faces that must agree: `may_camera` for one camera and
`camera_filter` as a SQL condition for lists. Role and region scope come from `accounts.policy`;
residents additionally see only enabled cameras flagged `public_view`, and only to list and watch
live."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, true

from xueliang.accounts.models import Role
from xueliang.accounts.policy import Permission, Principal, allows, in_scope, scope_filter
from xueliang.cameras.models import Camera
from xueliang.regions.models import Region

# Roles that see only cameras flagged for public view, and may only list and watch them live.
PUBLIC_ONLY = frozenset({Role.resident})
PUBLIC_PERMISSIONS = frozenset({Permission.list_cameras, Permission.view_live})
# The actions that are asked about a camera.
CAMERA_PERMISSIONS = frozenset(
    {
        Permission.list_cameras,
        Permission.view_live,
        Permission.view_recording,
        Permission.export_video,
        Permission.control_ptz,
        Permission.manage_cameras,
    }
)


def may_camera(p: Principal, permission: Permission, camera: Camera, camera_region_path: str) -> bool:
    if not allows(p, permission) or not in_scope(p, camera_region_path):
        return False
    if p.role in PUBLIC_ONLY:
        return permission in PUBLIC_PERMISSIONS and camera.public_view and camera.enabled
    return True


def camera_filter(p: Principal, permission: Permission) -> ColumnElement[bool]:
    """The same decision as `may_camera`, as a SQL condition over Camera joined with Region."""
    if not allows(p, permission):
        return false()
    cond = scope_filter(p, Region.path)
    if p.role in PUBLIC_ONLY:
        if permission not in PUBLIC_PERMISSIONS:
            return false()
        cond = and_(cond, Camera.public_view.is_(True), Camera.enabled.is_(True))
    return and_(cond, true())

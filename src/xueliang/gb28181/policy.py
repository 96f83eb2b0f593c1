"""Who may see and manage GB/T 28181 devices: admins and township operators, in their region scope.

A device not yet bound to a region is the county admin's alone (it could be anywhere). Each rule has
its object face (`may_manage_device`) and its SQL face (`device_filter`), which must agree."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, or_

from xueliang.accounts.models import Role
from xueliang.accounts.policy import Principal, in_scope, scope_filter
from xueliang.regions.models import Region

MANAGERS = frozenset({Role.admin, Role.operator})


def may_manage_device(p: Principal, region_path: str | None) -> bool:
    if p.role not in MANAGERS:
        return False
    if region_path is None:
        return p.role is Role.admin
    return in_scope(p, region_path)


def device_filter(p: Principal) -> ColumnElement[bool]:
    """Over a query that outer-joins `Region` on the device's region."""
    if p.role not in MANAGERS:
        return false()
    bound = scope_filter(p, Region.path)
    if p.role is Role.admin:
        return or_(Region.id.is_(None), bound)
    return bound

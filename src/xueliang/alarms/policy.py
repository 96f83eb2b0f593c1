"""The access policy's alarm rules, each a check on one alarm and, for lists, the same decision as SQL.

Staff who handle alarms (operator: township subtree, duty officer: village, admin: county) read and
act on alarms in their subtree. A resident reads only their own household's alarms; anyone reads
the alarms they raised themselves. Nobody else reads an alarm, and out of scope answers 404. Role and
region scope come from `accounts.policy`."""

from __future__ import annotations

from sqlalchemy import ColumnElement, SQLColumnExpression, or_

from xueliang.accounts.models import Role
from xueliang.accounts.policy import Permission, Principal, allows, in_scope, scope_filter


def may_handle_alarm(p: Principal, alarm_region_path: str) -> bool:
    return allows(p, Permission.handle_alarms) and in_scope(p, alarm_region_path)


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
    if allows(p, Permission.handle_alarms):
        return or_(scope_filter(p, region_path), own)
    if p.role is Role.resident and p.household_id is not None:
        return or_(household_id == p.household_id, own)
    return own


def may_raise_alarm_for(p: Principal, household_id: int | None, household_region_path: str) -> bool:
    """A resident raises for their own household only; staff for any household in their subtree."""
    if not allows(p, Permission.raise_alarm) and not allows(p, Permission.handle_alarms):
        return False
    if p.role is Role.resident:
        return household_id is not None and household_id == p.household_id
    return in_scope(p, household_region_path)


def may_configure_alarms(p: Principal, region_path: str) -> bool:
    """Station timeouts, devices and mobilization plans: county admins, and operators for their
    own township."""
    return p.role in (Role.admin, Role.operator) and in_scope(p, region_path)

"""The access policy's grid rules, each a check on one object and, for lists, the same decision as SQL.

- Care registry (minors and vulnerable people): the assigned grid worker reads their own people only;
  the village's duty officer, the township station (operator) and admins read those in their region
  subtree. Nobody else, and out of scope answers 404 like a missing person.
- Patrol routes: staff who manage the grid (operator, duty officer, admin) in their subtree; a grid
  worker the routes assigned to them.
- Incidents: staff who manage the grid in their subtree; the reporter and the assignee their own.
  Photos follow the incident.
- Video patrol tours: staff who manage the grid in their subtree.
Role and region scope come from `accounts.policy`, the one place that decides what a role may do."""

from __future__ import annotations

from sqlalchemy import ColumnElement, SQLColumnExpression, false, or_

from xueliang.accounts.models import Role
from xueliang.accounts.policy import Permission, Principal, allows, in_scope, scope_filter


def may_manage(p: Principal, region_path: str) -> bool:
    return allows(p, Permission.manage_grid) and in_scope(p, region_path)


def manage_filter(p: Principal, region_path: SQLColumnExpression[str]) -> ColumnElement[bool]:
    if not allows(p, Permission.manage_grid):
        return false()
    return scope_filter(p, region_path)


def may_read_care(p: Principal, region_path: str, worker_id: int | None) -> bool:
    if not allows(p, Permission.read_care):
        return False
    if p.role is Role.grid_worker:
        return worker_id is not None and worker_id == p.user_id
    return in_scope(p, region_path)


def care_filter(
    p: Principal, region_path: SQLColumnExpression[str], worker_id: SQLColumnExpression[int | None]
) -> ColumnElement[bool]:
    """The same decision as `may_read_care`, as SQL."""
    if not allows(p, Permission.read_care):
        return false()
    if p.role is Role.grid_worker:
        return worker_id == p.user_id
    return scope_filter(p, region_path)


def may_read_route(p: Principal, region_path: str, worker_id: int | None) -> bool:
    if may_manage(p, region_path):
        return True
    return allows(p, Permission.patrol) and worker_id is not None and worker_id == p.user_id


def route_filter(
    p: Principal, region_path: SQLColumnExpression[str], worker_id: SQLColumnExpression[int | None]
) -> ColumnElement[bool]:
    own: ColumnElement[bool] = worker_id == p.user_id if allows(p, Permission.patrol) else false()
    if allows(p, Permission.manage_grid):
        return or_(scope_filter(p, region_path), own)
    return own


def may_read_incident(
    p: Principal, region_path: str, reporter_id: int | None, assignee_id: int | None
) -> bool:
    if may_manage(p, region_path):
        return True
    if not allows(p, Permission.report_incident):
        return False
    return p.user_id in (reporter_id, assignee_id)


def incident_filter(
    p: Principal,
    region_path: SQLColumnExpression[str],
    reporter_id: SQLColumnExpression[int | None],
    assignee_id: SQLColumnExpression[int | None],
) -> ColumnElement[bool]:
    if not allows(p, Permission.report_incident) and not allows(p, Permission.manage_grid):
        return false()
    own = or_(reporter_id == p.user_id, assignee_id == p.user_id)
    if allows(p, Permission.manage_grid):
        return or_(scope_filter(p, region_path), own)
    return own

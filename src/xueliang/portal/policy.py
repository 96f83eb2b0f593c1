"""The portal's access rules on top of `accounts/policy.py`, each as a check and, for lists, as SQL.

- Published services, jobs and the directory: any logged-in caller. Unpublished content: only editors
  who may change it; to anyone else it does not exist (404).
- Content changes: the county admin and county-wide portal editors everywhere; a department editor
  only their departments' entry, services and jobs. Products, markets and prices need the county.
- Notices: a notice reaches everyone whose region lies in its target subtree. Publishing and reading
  receipts: admin, township operators and village duty officers within their own subtree.
- Price subscriptions and price alerts: their own user only."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, SQLColumnExpression, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.models import Role
from xueliang.accounts.policy import Permission, Principal, allows, in_scope
from xueliang.portal.models import EditorScope


@dataclass(frozen=True)
class EditorReach:
    """What one caller may change: everything (`county`) or these departments."""

    county: bool
    departments: frozenset[int]

    @property
    def anything(self) -> bool:
        return self.county or bool(self.departments)


NOTHING = EditorReach(False, frozenset())


async def editor_reach(session: AsyncSession, p: Principal) -> EditorReach:
    if not allows(p, Permission.manage_portal):
        return NOTHING
    if p.role is Role.admin:
        return EditorReach(True, frozenset())
    rows = (
        await session.execute(select(EditorScope.department_id).where(EditorScope.user_id == p.user_id))
    ).all()
    ids = [r[0] for r in rows]
    return EditorReach(any(i is None for i in ids), frozenset(i for i in ids if i is not None))


def may_edit_department(reach: EditorReach, department_id: int | None) -> bool:
    """`None`: content that belongs to no department (a job posted by the county): county scope only."""
    if reach.county:
        return True
    return department_id is not None and department_id in reach.departments


def department_filter(reach: EditorReach, column: SQLColumnExpression[int | None]) -> ColumnElement[bool]:
    """The same decision as `may_edit_department`, as SQL."""
    if reach.county:
        return true()
    if not reach.departments:
        return false()
    return column.in_(sorted(reach.departments))


def visible_filter(
    reach: EditorReach, published: SQLColumnExpression[bool], department: SQLColumnExpression[int | None]
) -> ColumnElement[bool]:
    """What a caller may read: published content, and what they may edit."""
    if reach.county:
        return true()
    return or_(published.is_(True), department_filter(reach, department))


def region_ancestors(path: str) -> list[str]:
    """'513223/513223101/513223101201/' -> every prefix path that ends at a region: the targets whose
    notices reach this region."""
    parts = [p for p in path.split("/") if p]
    return ["".join(f"{x}/" for x in parts[: i + 1]) for i in range(len(parts))]


def notice_reaches(p: Principal, notice_region_path: str) -> bool:
    return p.region_path.startswith(notice_region_path)


def may_publish_to(p: Principal, region_path: str) -> bool:
    return allows(p, Permission.publish_notices) and in_scope(p, region_path)


def may_read_notice(p: Principal, notice_region_path: str) -> bool:
    return notice_reaches(p, notice_region_path) or may_publish_to(p, notice_region_path)

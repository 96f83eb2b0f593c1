"""The access policy's hospital rules, on top of `accounts.policy` (role x permission, region scope).

- Browsing hospitals, departments, doctors and sessions: any logged-in user (public information).
- Booking: a resident for their own household; a grid worker for a household in their region (the
  booking waits for the household's OK on the TV). Nobody else books, not even the county admin:
  a booking speaks for a household.
- A booking is read by its household's residents and by the grid worker who made it; hospital staff
  read their own hospital's bookings (admin: every hospital), each read of personal data audited.
Out of scope answers exactly like missing (404)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, SQLColumnExpression, false

from xueliang.accounts.models import Role
from xueliang.accounts.policy import Permission, Principal, allows, in_scope


def may_book(p: Principal) -> bool:
    """Residents and grid workers book; the county admin's every-permission role does not."""
    return allows(p, Permission.book_hospital) and p.role in (Role.resident, Role.grid_worker)


def may_book_for(p: Principal, household_id: int, household_region_path: str) -> bool:
    if not may_book(p):
        return False
    if p.role is Role.resident:
        return p.household_id is not None and household_id == p.household_id
    if p.role is Role.grid_worker:
        return in_scope(p, household_region_path)
    return False


def needs_household_ok(p: Principal) -> bool:
    """A booking made for someone else's household waits for that household's confirmation."""
    return p.role is not Role.resident


def may_read_booking(p: Principal, household_id: int, booked_by: int | None) -> bool:
    if p.role is Role.resident:
        return p.household_id is not None and household_id == p.household_id
    if p.role is Role.grid_worker:
        return booked_by is not None and booked_by == p.user_id
    return False


def booking_filter(
    p: Principal,
    household_id: SQLColumnExpression[int],
    booked_by: SQLColumnExpression[int | None],
) -> ColumnElement[bool]:
    """The same decision as `may_read_booking`, as SQL over the booking's columns."""
    if p.role is Role.resident and p.household_id is not None:
        return household_id == p.household_id
    if p.role is Role.grid_worker:
        return booked_by == p.user_id
    return false()


def may_confirm(p: Principal, household_id: int) -> bool:
    """Only the household itself says OK to a booking made for it."""
    return p.role is Role.resident and p.household_id is not None and household_id == p.household_id


def manages_all_hospitals(p: Principal) -> bool:
    return p.role is Role.admin and allows(p, Permission.manage_hospital)


def may_manage(p: Principal, hospital_id: int, linked: frozenset[int]) -> bool:
    """Staff act on their linked hospital only; the county admin on every hospital."""
    if not allows(p, Permission.manage_hospital):
        return False
    return manages_all_hospitals(p) or hospital_id in linked

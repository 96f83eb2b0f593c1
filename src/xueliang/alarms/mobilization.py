"""Village mobilization ("four gates"): a plan of guard points (the village exits plus control lines)
with assigned volunteers and grid workers; activated from an alarm it gives each assignee a task,
each confirms "in position", and stand-down closes them all.

A village without a plan gets one made from its exits, with its volunteers and grid workers spread
over them, so a plan exists the first time it is needed; staff refine it afterwards. Changes are made
and audited in the caller's transaction, and the caller commits them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.models import Role, User
from xueliang.accounts.policy import Principal
from xueliang.alarms.models import (
    Alarm,
    AlarmEvent,
    GuardAssignment,
    GuardPoint,
    Mobilization,
    MobilizationTask,
    TaskState,
)
from xueliang.alarms.policy import may_handle_alarm
from xueliang.alarms.schemas import GuardPointOut, MobilizationOut, PlanIn, PlanOut, TaskOut
from xueliang.alarms.service import load_for_action
from xueliang.alarms.workflow import CLOSED
from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.core import timers
from xueliang.core.errors import Conflict, NotFound, ValidationFailed
from xueliang.regions.models import Place, Region, RegionLevel

GUARD_ROLES = (Role.volunteer, Role.grid_worker, Role.duty_officer)


async def village_of(session: AsyncSession, region: Region) -> Region:
    codes = [c for c in region.path.split("/") if c]
    rows = (await session.scalars(select(Region).where(Region.code.in_(codes)))).all()
    return next((r for r in rows if r.level is RegionLevel.village), region)


async def _guards(session: AsyncSession, village: Region) -> list[User]:
    rows = await session.scalars(
        select(User)
        .join(Region, Region.id == User.region_id)
        .where(
            Region.path.startswith(village.path, autoescape=True),
            User.role.in_(GUARD_ROLES),
            User.disabled.is_(False),
        )
        .order_by(User.role, User.id)
    )
    return [u for u in rows if u.role is not Role.duty_officer]


async def ensure_plan(session: AsyncSession, village: Region) -> list[GuardPoint]:
    points = list(
        (
            await session.scalars(
                select(GuardPoint)
                .where(GuardPoint.region_id == village.id, GuardPoint.active.is_(True))
                .order_by(GuardPoint.position, GuardPoint.id)
            )
        ).all()
    )
    if points:
        return points
    exits = (
        await session.scalars(
            select(Place).where(Place.region_id == village.id, Place.kind == "exit").order_by(Place.id)
        )
    ).all()
    for n, place in enumerate(exits):
        point = GuardPoint(
            region_id=village.id,
            kind="exit",
            name=place.name,
            place_id=place.id,
            lat=place.lat,
            lon=place.lon,
            position=n,
            active=True,
        )
        session.add(point)
        points.append(point)
    await session.flush()
    for n, user in enumerate(await _guards(session, village)):
        if points:
            session.add(GuardAssignment(point_id=points[n % len(points)].id, user_id=user.id))
    await session.flush()
    return points


async def plan_out(session: AsyncSession, village: Region) -> PlanOut:
    points = await ensure_plan(session, village)
    out = []
    for point in points:
        users = (
            await session.scalars(
                select(User)
                .join(GuardAssignment, GuardAssignment.user_id == User.id)
                .where(GuardAssignment.point_id == point.id)
                .order_by(User.id)
            )
        ).all()
        out.append(
            GuardPointOut(
                id=point.id,
                kind=point.kind,
                name=point.name,
                place_id=point.place_id,
                lat=point.lat,
                lon=point.lon,
                line=point.line,
                assignees=[u.id for u in users],
                assignee_names=[u.display_name for u in users],
            )
        )
    return PlanOut(region_id=village.id, region_name=village.name, points=out)


async def scoped_village(session: AsyncSession, p: Principal, region_id: int) -> Region:
    region = await session.get(Region, region_id)
    if region is None or not may_handle_alarm(p, region.path):
        raise NotFound("region not found")
    if region.level is not RegionLevel.village:
        raise ValidationFailed("mobilization plans belong to villages")
    return region


async def replace_plan(
    session: AsyncSession, p: Principal, actor: Actor, village: Region, plan: PlanIn, now: datetime
) -> PlanOut:
    existing = {pt.id: pt for pt in await ensure_plan(session, village)}
    allowed = {u.id for u in await _guards(session, village)}
    for item in plan.points:
        if set(item.assignees) - allowed:
            raise ValidationFailed(
                f"guard point {item.name!r}: assignees must be volunteers or grid workers here"
            )
        if item.kind == "control_line" and (not item.line or len(item.line) < 2):
            raise ValidationFailed(f"control line {item.name!r} needs at least two points")
    kept: set[int] = set()
    for n, item in enumerate(plan.points):
        point = existing.get(item.id) if item.id is not None else None
        if point is None:
            point = GuardPoint(region_id=village.id, active=True)
            session.add(point)
        point.kind, point.name, point.place_id = item.kind, item.name, item.place_id
        point.lat, point.lon, point.line, point.position = item.lat, item.lon, item.line, n
        await session.flush()
        kept.add(point.id)
        await session.execute(delete(GuardAssignment).where(GuardAssignment.point_id == point.id))
        for user_id in dict.fromkeys(item.assignees):
            session.add(GuardAssignment(point_id=point.id, user_id=user_id))
    for point_id, point in existing.items():
        if point_id not in kept:
            point.active = False
    await audit.append(
        session,
        actor,
        "alarm.plan.update",
        at=now,
        target_type="region",
        target_id=village.id,
        detail={"points": len(plan.points)},
    )
    await session.flush()
    return await plan_out(session, village)


async def task_out(session: AsyncSession, task: MobilizationTask) -> TaskOut:
    point = await session.get(GuardPoint, task.point_id)
    user = await session.get(User, task.user_id)
    mob = await session.get(Mobilization, task.mobilization_id)
    assert point is not None and user is not None and mob is not None
    return TaskOut(
        id=task.id,
        mobilization_id=task.mobilization_id,
        alarm_id=mob.alarm_id,
        point_id=point.id,
        point_name=point.name,
        point_kind=point.kind,
        lat=point.lat,
        lon=point.lon,
        user_id=user.id,
        user_name=user.display_name,
        state=task.state,
        assigned_at=task.assigned_at,
        in_position_at=task.in_position_at,
        closed_at=task.closed_at,
    )


async def mobilization_out(session: AsyncSession, mob: Mobilization) -> MobilizationOut:
    rows = (
        await session.scalars(
            select(MobilizationTask)
            .where(MobilizationTask.mobilization_id == mob.id)
            .order_by(MobilizationTask.id)
        )
    ).all()
    out = [await task_out(session, t) for t in rows]
    points = {t.point_id for t in out}
    manned = {t.point_id for t in out if t.state is TaskState.in_position}
    return MobilizationOut(
        id=mob.id,
        alarm_id=mob.alarm_id,
        region_id=mob.region_id,
        activated_at=mob.activated_at,
        stood_down_at=mob.stood_down_at,
        tasks=out,
        points_total=len(points),
        points_manned=len(manned),
    )


async def _alarm_for_staff(session: AsyncSession, p: Principal, alarm_id: int) -> Alarm:
    return await load_for_action(session, p, alarm_id)


async def activate(
    session: AsyncSession, p: Principal, actor: Actor, alarm_id: int, now: datetime
) -> tuple[Alarm, MobilizationOut]:
    alarm = await _alarm_for_staff(session, p, alarm_id)
    if alarm.state in CLOSED:
        raise Conflict("the alarm is closed", code="alarm_closed")
    region = await session.get(Region, alarm.region_id)
    assert region is not None
    village = await village_of(session, region)
    points = await ensure_plan(session, village)
    # `user_id` 0 is a principal that is no user here (a parent node, federation): no one to name.
    mob = Mobilization(
        alarm_id=alarm.id, region_id=village.id, activated_at=now, activated_by=p.user_id or None
    )
    session.add(mob)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("this alarm's plan is already activated", code="already_mobilized") from None
    assignments = (
        await session.scalars(
            select(GuardAssignment)
            .where(GuardAssignment.point_id.in_([pt.id for pt in points]))
            .order_by(GuardAssignment.id)
        )
    ).all()
    for a in assignments:
        session.add(
            MobilizationTask(
                mobilization_id=mob.id,
                point_id=a.point_id,
                user_id=a.user_id,
                state=TaskState.assigned,
                assigned_at=now,
            )
        )
    detail = {"village": village.code, "points": len(points), "tasks": len(assignments)}
    session.add(
        AlarmEvent(
            alarm_id=alarm.id, at=now, action="mobilized", actor_id=actor.id, actor=actor.name, detail=detail
        )
    )
    await audit.append(
        session, actor, "alarm.mobilize", at=now, target_type="alarm", target_id=alarm.id, detail=detail
    )
    await session.flush()
    return alarm, await mobilization_out(session, mob)


async def get_mobilization(session: AsyncSession, p: Principal, alarm_id: int) -> MobilizationOut:
    await _alarm_for_staff(session, p, alarm_id)
    mob = (await session.scalars(select(Mobilization).where(Mobilization.alarm_id == alarm_id))).first()
    if mob is None:
        raise NotFound("this alarm has no mobilization")
    return await mobilization_out(session, mob)


async def stand_down(
    session: AsyncSession, p: Principal, actor: Actor, alarm_id: int, now: datetime
) -> tuple[Alarm, MobilizationOut]:
    alarm = await _alarm_for_staff(session, p, alarm_id)
    mob = (await session.scalars(select(Mobilization).where(Mobilization.alarm_id == alarm_id))).first()
    if mob is None:
        raise NotFound("this alarm has no mobilization")
    done = await session.execute(
        update(Mobilization)
        .where(Mobilization.id == mob.id, Mobilization.stood_down_at.is_(None))
        .values(stood_down_at=now, stood_down_by=p.user_id or None)
        .execution_options(synchronize_session=False)
    )
    if timers.rowcount(done) != 1:
        raise Conflict("already stood down", code="already_stood_down")
    await session.execute(
        update(MobilizationTask)
        .where(MobilizationTask.mobilization_id == mob.id, MobilizationTask.state != TaskState.closed)
        .values(state=TaskState.closed, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    session.add(
        AlarmEvent(alarm_id=alarm.id, at=now, action="stood_down", actor_id=actor.id, actor=actor.name)
    )
    await audit.append(session, actor, "alarm.stand_down", at=now, target_type="alarm", target_id=alarm.id)
    await session.flush()
    await session.refresh(mob)
    return alarm, await mobilization_out(session, mob)


async def confirm_in_position(
    session: AsyncSession, p: Principal, actor: Actor, task_id: int, now: datetime
) -> tuple[TaskOut, str]:
    """The assignee is at the point. Repeating it is harmless; a closed task answers 409."""
    task = await session.get(MobilizationTask, task_id)
    if task is None or task.user_id != p.user_id:
        raise NotFound("task not found")
    done = await session.execute(
        update(MobilizationTask)
        .where(MobilizationTask.id == task_id, MobilizationTask.state == TaskState.assigned)
        .values(state=TaskState.in_position, in_position_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(task)
    if timers.rowcount(done) != 1 and task.state is TaskState.closed:
        raise Conflict("the mobilization was stood down", code="task_closed")
    if timers.rowcount(done) == 1:
        await audit.append(
            session, actor, "alarm.task.in_position", at=now, target_type="task", target_id=task_id
        )
    out = await task_out(session, task)
    mob = await session.get(Mobilization, task.mobilization_id)
    assert mob is not None
    village = await session.get(Region, mob.region_id)
    assert village is not None
    return out, village.path


async def my_tasks(session: AsyncSession, p: Principal) -> list[TaskOut]:
    rows = (
        await session.scalars(
            select(MobilizationTask)
            .where(MobilizationTask.user_id == p.user_id, MobilizationTask.state != TaskState.closed)
            .order_by(MobilizationTask.id.desc())
        )
    ).all()
    return [await task_out(session, t) for t in rows]


async def open_tasks_of(session: AsyncSession, mob_id: int) -> list[MobilizationTask]:
    return list(
        (
            await session.scalars(select(MobilizationTask).where(MobilizationTask.mobilization_id == mob_id))
        ).all()
    )

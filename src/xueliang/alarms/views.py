"""Alarm routes under /api/v1/alarms. Thin: scope and workflow live in the services (service, flows,
mobilization, stations, devices); a route commits each change before it answers and pushes."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.deps import Ctx, CurrentCaller, ReadSession, Session, require
from xueliang.accounts.policy import Permission
from xueliang.alarms import devices, flows, mobilization, service, stations, stats
from xueliang.alarms.models import Alarm, AlarmDevice, AlarmKind, AlarmState
from xueliang.alarms.policy import may_handle_alarm
from xueliang.alarms.push import publish_alarm, task_event
from xueliang.alarms.render import alarm_detail, alarm_out, status_out
from xueliang.alarms.schemas import (
    AlarmDetailOut,
    AlarmIn,
    AlarmOut,
    AlarmStatusOut,
    DeviceIn,
    DeviceOut,
    DispatchIn,
    MobilizationOut,
    NoteIn,
    PlanIn,
    PlanOut,
    RaiseOut,
    StationConfigIn,
    StationConfigOut,
    StatsRow,
    TaskOut,
)
from xueliang.alarms.workflow import Action
from xueliang.alarms.ws import router as ws_router
from xueliang.audit import service as audit
from xueliang.core.bounds import MAX_INT64, PathId, QueryId, StoredDatetime
from xueliang.notify.hub import Hub

router = APIRouter(prefix="/alarms", tags=["alarms"])
router.include_router(ws_router)


async def _out(session: AsyncSession, caller: CurrentCaller, alarm: Alarm) -> AlarmOut | AlarmStatusOut:
    if may_handle_alarm(caller.principal, alarm.region_path):
        return await alarm_out(session, alarm)
    return status_out(alarm)


@router.post("", response_model=RaiseOut, status_code=201)
async def raise_alarm(
    body: AlarmIn, caller: CurrentCaller, ctx: Ctx, session: ReadSession, response: Response
) -> RaiseOut:
    """Answered only after the alarm is committed. 201: a new alarm; 200: this uuid was already
    received (a retry) or the press was counted on the sender's open alarm."""
    result = await flows.raise_from_caller(ctx, session, caller.principal, caller.actor, body)
    if not result.created:
        response.status_code = 200
    return RaiseOut(
        alarm=await _out(session, caller, result.alarm), created=result.created, duplicate=result.duplicate
    )


def _query(
    state: AlarmState | None,
    kind: AlarmKind | None,
    open_only: bool,
    escalated: bool | None,
    station_region_id: int | None,
    region_id: int | None,
    since: datetime | None,
    until: datetime | None,
) -> service.AlarmQuery:
    return service.AlarmQuery(state, kind, open_only, escalated, station_region_id, region_id, since, until)


@router.get("", response_model=list[AlarmOut | AlarmStatusOut])
async def list_alarms(
    caller: CurrentCaller,
    session: Session,
    state: AlarmState | None = None,
    kind: AlarmKind | None = None,
    open: bool = Query(default=False, description="only alarms not yet resolved or marked false"),
    escalated: bool | None = None,
    station_region_id: QueryId | None = None,
    region_id: QueryId | None = None,
    since: StoredDatetime | None = None,
    until: StoredDatetime | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=MAX_INT64),
) -> list[AlarmOut | AlarmStatusOut]:
    q = _query(state, kind, open, escalated, station_region_id, region_id, since, until)
    return [
        await _out(session, caller, a)
        for a in await service.list_alarms(session, caller.principal, q, limit, offset)
    ]


@router.get("/export.csv", response_class=Response)
async def export_csv(
    caller: CurrentCaller,
    ctx: Ctx,
    session: Session,
    state: AlarmState | None = None,
    kind: AlarmKind | None = None,
    station_region_id: QueryId | None = None,
    region_id: QueryId | None = None,
    since: StoredDatetime | None = None,
    until: StoredDatetime | None = None,
) -> Response:
    require(caller, Permission.handle_alarms)
    q = _query(state, kind, False, None, station_region_id, region_id, since, until)
    text, count = await stats.export_csv(session, caller.principal, q)
    await audit.append(
        session,
        caller.actor,
        "alarm.export",
        at=ctx.clock.now(),
        target_type="alarm",
        detail={"rows": count, "since": str(since or ""), "until": str(until or "")},
    )
    await session.commit()
    headers = {"Content-Disposition": 'attachment; filename="alarms.csv"'}
    return Response("\ufeff" + text, media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/stats", response_model=list[StatsRow])
async def station_stats(
    caller: CurrentCaller,
    session: Session,
    since: StoredDatetime | None = None,
    until: StoredDatetime | None = None,
    station_region_id: QueryId | None = None,
    include_technical: bool = False,
) -> list[StatsRow]:
    require(caller, Permission.handle_alarms)
    q = _query(None, None, False, None, station_region_id, None, since, until)
    return await stats.station_stats(session, caller.principal, q, include_technical)


@router.get("/tasks/mine", response_model=list[TaskOut])
async def my_tasks(caller: CurrentCaller, session: Session) -> list[TaskOut]:
    return await mobilization.my_tasks(session, caller.principal)


@router.post("/tasks/{task_id}/in-position", response_model=TaskOut)
async def in_position(task_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session) -> TaskOut:
    task, path = await mobilization.confirm_in_position(
        session, caller.principal, caller.actor, task_id, ctx.clock.now()
    )
    await session.commit()
    await ctx.services.require(Hub).publish(task_event(task, path, "in_position"))
    return task


@router.get("/plans/{region_id}", response_model=PlanOut)
async def get_plan(region_id: PathId, caller: CurrentCaller, session: Session) -> PlanOut:
    village = await mobilization.scoped_village(session, caller.principal, region_id)
    out = await mobilization.plan_out(session, village)
    await session.commit()  # a default plan made on first look is kept
    return out


@router.put("/plans/{region_id}", response_model=PlanOut)
async def put_plan(
    region_id: PathId, body: PlanIn, caller: CurrentCaller, ctx: Ctx, session: Session
) -> PlanOut:
    village = await mobilization.scoped_village(session, caller.principal, region_id)
    out = await mobilization.replace_plan(
        session, caller.principal, caller.actor, village, body, ctx.clock.now()
    )
    await session.commit()
    return out


@router.get("/stations/{region_id}/config", response_model=StationConfigOut)
async def get_station_config(region_id: PathId, caller: CurrentCaller, session: Session) -> StationConfigOut:
    delays = await stations.escalation_delays(session, caller.principal, region_id)
    return StationConfigOut(region_id=region_id, escalate_after_s=delays)


@router.put("/stations/{region_id}/config", response_model=StationConfigOut)
async def put_station_config(
    region_id: PathId, body: StationConfigIn, caller: CurrentCaller, ctx: Ctx, session: Session
) -> StationConfigOut:
    """Applies to alarms received from now on."""
    delays = await stations.set_escalation_delays(
        session, caller.principal, caller.actor, region_id, body.escalate_after_s, ctx.clock.now()
    )
    await session.commit()
    return StationConfigOut(region_id=region_id, escalate_after_s=delays)


def _device_out(d: AlarmDevice) -> DeviceOut:
    return DeviceOut(
        id=d.id,
        device_id=d.device_id,
        name=d.name,
        household_id=d.household_id,
        region_id=d.region_id,
        lat=d.lat,
        lon=d.lon,
        last_seen_at=d.last_seen_at,
    )


@router.get("/devices", response_model=list[DeviceOut])
async def list_devices(caller: CurrentCaller, session: Session) -> list[DeviceOut]:
    return [_device_out(d) for d in await devices.list_devices(session, caller.principal)]


@router.post("/devices", response_model=DeviceOut, status_code=201)
async def register_device(body: DeviceIn, caller: CurrentCaller, ctx: Ctx, session: Session) -> DeviceOut:
    """Bind a hardware button to a household (or a place in a region) so its presses are routed."""
    device = await devices.register_device(session, caller.principal, caller.actor, body, ctx.clock.now())
    await session.commit()
    return _device_out(device)


@router.get("/{alarm_id}", response_model=AlarmDetailOut | AlarmStatusOut)
async def get_alarm(
    alarm_id: PathId, caller: CurrentCaller, session: Session
) -> AlarmDetailOut | AlarmStatusOut:
    alarm = await service.get_alarm(session, caller.principal, alarm_id)
    if may_handle_alarm(caller.principal, alarm.region_path):
        return await alarm_detail(session, alarm)
    return status_out(alarm)


async def _act(
    alarm_id: PathId,
    action: Action,
    caller: CurrentCaller,
    ctx: Ctx,
    session: Session,
    note: str = "",
    to: str = "",
    user_id: int | None = None,
) -> AlarmOut:
    change = await service.transition(
        session,
        caller.principal,
        caller.actor,
        alarm_id,
        action,
        ctx.clock.now(),
        note=note,
        to=to,
        user_id=user_id,
    )
    await session.commit()
    await publish_alarm(ctx, session, change.alarm, change.events)
    return await alarm_out(session, change.alarm)


def _note_only_action(action: Action, path: str, summary: str) -> None:
    """The transitions whose body is at most a note: one route each, alike but for the action."""

    async def act(
        alarm_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session, body: NoteIn | None = None
    ) -> AlarmOut:
        return await _act(alarm_id, action, caller, ctx, session, note=body.note if body else "")

    act.__name__ = act.__qualname__ = path.replace("-", "_")  # the OpenAPI operation id
    act.__doc__ = summary
    router.post(f"/{{alarm_id}}/{path}", response_model=AlarmOut)(act)


for _action, _path, _summary in (
    (Action.acknowledge, "acknowledge", "409 `illegal_transition` if someone else acknowledged it first."),
    (Action.on_scene, "on-scene", "The dispatched responder has arrived."),
    (Action.resolve, "resolve", "Closed: the incident is dealt with."),
    (Action.false_alarm, "false-alarm", "Closed: there was no incident."),
):
    _note_only_action(_action, _path, _summary)


@router.post("/{alarm_id}/dispatch", response_model=AlarmOut)
async def dispatch(
    alarm_id: PathId, body: DispatchIn, caller: CurrentCaller, ctx: Ctx, session: Session
) -> AlarmOut:
    return await _act(
        alarm_id, Action.dispatch, caller, ctx, session, note=body.note, to=body.to, user_id=body.user_id
    )


@router.post("/{alarm_id}/notes", response_model=AlarmOut)
async def add_note(
    alarm_id: PathId, body: NoteIn, caller: CurrentCaller, ctx: Ctx, session: Session
) -> AlarmOut:
    change = await service.add_note(
        session, caller.principal, caller.actor, alarm_id, body.note, ctx.clock.now()
    )
    await session.commit()
    await publish_alarm(ctx, session, change.alarm, change.events)
    return await alarm_out(session, change.alarm)


@router.post("/{alarm_id}/mobilize", response_model=MobilizationOut, status_code=201)
async def mobilize(alarm_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session) -> MobilizationOut:
    """Activate the village plan: one task per assignee, pushed to their phones."""
    alarm, out = await mobilization.activate(
        session, caller.principal, caller.actor, alarm_id, ctx.clock.now()
    )
    await session.commit()
    await publish_alarm(ctx, session, alarm, ["mobilized"])
    for task in out.tasks:
        await ctx.services.require(Hub).publish(task_event(task, alarm.region_path, "assigned"))
    return out


@router.get("/{alarm_id}/mobilization", response_model=MobilizationOut)
async def get_mobilization(alarm_id: PathId, caller: CurrentCaller, session: Session) -> MobilizationOut:
    return await mobilization.get_mobilization(session, caller.principal, alarm_id)


@router.post("/{alarm_id}/stand-down", response_model=MobilizationOut)
async def stand_down(alarm_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session) -> MobilizationOut:
    alarm, out = await mobilization.stand_down(
        session, caller.principal, caller.actor, alarm_id, ctx.clock.now()
    )
    await session.commit()
    await publish_alarm(ctx, session, alarm, ["stood_down"])
    for task in out.tasks:
        await ctx.services.require(Hub).publish(task_event(task, alarm.region_path, "closed"))
    return out

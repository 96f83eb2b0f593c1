"""Group commit for alarm intake: presses from every channel queue here, and one worker stores all
that are waiting in one transaction — one commit, one audit link, one INSERT per table — then
answers each sender and pushes to consoles. At low load a batch is a single press and nothing waits;
in a storm (everyone presses) the cost per press falls instead of the queue growing.

Same guarantees as `service.intake`: each sender is answered only after the commit that holds its
press; a UUID seen before answers its alarm; presses of one sender coalesce into its open alarm. If
the batch meets a unique-constraint race with another writer, it is rolled back and every press is
taken again one by one through `service.intake`, which settles the race."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.alarms import escalation, service
from xueliang.alarms.models import Alarm, AlarmEvent, AlarmPress
from xueliang.alarms.push import publish_alarm
from xueliang.alarms.routing import station_of
from xueliang.alarms.service import IntakeResult, Press
from xueliang.audit import service as audit
from xueliang.audit.service import SYSTEM, Actor
from xueliang.core import timers
from xueliang.core.context import AppContext
from xueliang.regions.models import Household, Region

log = logging.getLogger(__name__)
MAX_BATCH = 200

# Turns a queued request into a press inside the batch's transaction (e.g. a device id into its
# household), so channels that need a lookup do not take the database on their own first.
Resolve = Callable[[AsyncSession, datetime], Awaitable[Press]]


@dataclass
class Pending:
    resolve: Resolve
    actor: Actor
    future: asyncio.Future[IntakeResult] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    press: Press | None = None


def ready(press: Press) -> Resolve:
    async def resolve(_session: AsyncSession, _now: datetime) -> Press:
        return press

    return resolve


class IntakeBatcher:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.queue: asyncio.Queue[Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.presses = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="xueliang-alarm-intake")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while not self.queue.empty():
            item = self.queue.get_nowait()
            if not item.future.done():
                item.future.set_exception(RuntimeError("server stopping; resend the press"))

    async def submit(self, resolve: Resolve, actor: Actor) -> IntakeResult:
        """Answered after the commit that holds the press; raises what resolving it raised."""
        item = Pending(resolve, actor)
        await self.queue.put(item)
        return await item.future

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while len(batch) < MAX_BATCH and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:
                await self._store(batch)
            except Exception as exc:
                log.exception("alarm intake batch of %d failed", len(batch))
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(exc)

    async def _store(self, batch: list[Pending]) -> None:
        now = self.ctx.clock.now()
        async with self.ctx.db.session() as session:
            live: list[Pending] = []
            for item in batch:
                try:
                    item.press = await item.resolve(session, now)
                    live.append(item)
                except Exception as exc:  # this press only: unknown device, bad household...
                    item.future.set_exception(exc)
            if not live:
                await session.rollback()
                return
            try:
                results = await _store_batch(session, [(i.press, i.actor) for i in live if i.press], now)
                await session.commit()
            except IntegrityError:
                await session.rollback()
                results = [await service.intake(session, i.press, i.actor, now) for i in live if i.press]
        # Committed and the write turn handed on: answer, then render the pushes from a read session.
        self.batches += 1
        self.presses += len(live)
        for item, result in zip(live, results, strict=True):
            item.future.set_result(result)
        await announce(self.ctx, results)


async def store_presses(
    session: AsyncSession, items: list[tuple[Press, Actor]], now: datetime
) -> list[IntakeResult]:
    """The group commit's work inside the caller's transaction, for a caller that must commit other
    rows with the alarms (the federation inbox: a peer's batch and its inbox rows in one commit). The
    caller commits, then calls `announce`; a unique-constraint race raises IntegrityError."""
    return await _store_batch(session, items, now)


async def announce(ctx: AppContext, results: list[IntakeResult]) -> None:
    """After the commit: each alarm's first change in the batch, in order, to the consoles."""
    announced: dict[int, tuple[Alarm, str]] = {}
    for result in results:
        if result.event:
            announced.setdefault(result.alarm.id, (result.alarm, result.event))
    if announced:
        async with ctx.db.read_session() as reader:
            for alarm, event in announced.values():
                await publish_alarm(ctx, reader, alarm, [event])


async def _store_batch(
    session: AsyncSession, items: list[tuple[Press, Actor]], now: datetime
) -> list[IntakeResult]:
    seen = await service.alarms_by_uuid(session, [p.uuid for p, _ in items])
    foreign = [p for p, _ in items if p.uuid in seen and not service.same_sender(seen[p.uuid], p)]
    for press in foreign:  # another sender's UUID: stored under the sender's own key instead
        press.uuid = service.own_uuid(press)
    if foreign:
        seen.update(await service.alarms_by_uuid(session, [p.uuid for p in foreign]))
    keys = [p.sender_key for p, _ in items if p.sender_key]
    open_by_key: dict[str, Alarm] = {}
    if keys:
        rows = await session.scalars(select(Alarm).where(Alarm.open_key.in_(keys)))
        open_by_key = {a.open_key: a for a in rows if a.open_key}
    # Load what routing reads once, and hold it: the identity map keeps objects only while referenced.
    household_ids = {p.household_id for p, _ in items if p.household_id}
    keep: list[object] = []
    if household_ids:
        keep += (await session.scalars(select(Household).where(Household.id.in_(household_ids)))).all()
    regions = (
        await session.scalars(select(Region).where(Region.id.in_({p.region_id for p, _ in items})))
    ).all()
    keep += regions
    keep += [await station_of(session, r) for r in regions]

    plan: list[tuple[str, Alarm, Press, Actor]] = []  # (raised | pressed | duplicate, alarm, press, actor)
    fresh: list[tuple[Alarm, Press, Actor]] = []
    coalesced: dict[int, int] = {}
    with session.no_autoflush:  # new alarms go in together at the flush below, one INSERT
        await _plan(session, items, now, seen, open_by_key, plan, fresh, coalesced)
    await session.flush()  # new alarms get their ids

    details = await _record(session, fresh, plan, now)
    await service.touch_devices(session, (p.device_id for p, _ in items if p.device_id), now)
    for alarm_id, extra in coalesced.items():
        await session.execute(
            update(Alarm)
            .where(Alarm.id == alarm_id)
            .values(press_count=Alarm.press_count + extra, last_press_at=now, version=Alarm.version + 1)
            .execution_options(synchronize_session=False)
        )
    if fresh:
        first = fresh[0][0]
        actors = {a.name for _, _, a in fresh}
        actor = fresh[0][2] if len(actors) == 1 else SYSTEM
        await audit.append(
            session,
            actor,
            "alarm.raise",
            at=now,
            target_type="alarm",
            target_id=first.id,
            detail={"alarms": [a.id for a, _, _ in fresh], "raised_by": sorted(actors), "first": details[0]},
        )
    await session.flush()
    if coalesced:
        await session.execute(
            select(Alarm).where(Alarm.id.in_(list(coalesced))).execution_options(populate_existing=True)
        )
    return [
        IntakeResult(alarm, created=kind == "raised", duplicate=kind == "duplicate")
        for kind, alarm, _, _ in plan
    ]


async def _plan(
    session: AsyncSession,
    items: list[tuple[Press, Actor]],
    now: datetime,
    seen: dict[str, Alarm],
    open_by_key: dict[str, Alarm],
    plan: list[tuple[str, Alarm, Press, Actor]],
    fresh: list[tuple[Alarm, Press, Actor]],
    coalesced: dict[int, int],
) -> None:
    """Decide each press in order: a repeat, a press on an open alarm, or a new alarm."""
    for press, actor in items:
        known = seen.get(press.uuid)
        if known is not None and not service.same_sender(known, press):  # another's, in this batch
            press.uuid = service.own_uuid(press)
            known = seen.get(press.uuid)
        if known is not None:
            plan.append(("duplicate", known, press, actor))
            continue
        target = open_by_key.get(press.sender_key) if press.sender_key else None
        if target is not None:
            if target.id is None:  # opened earlier in this batch
                target.press_count += 1
            else:
                coalesced[target.id] = coalesced.get(target.id, 0) + 1
            plan.append(("pressed", target, press, actor))
        else:
            target = await service.build_alarm(session, press, now)
            session.add(target)
            fresh.append((target, press, actor))
            if press.sender_key:
                open_by_key[press.sender_key] = target
            plan.append(("raised", target, press, actor))
        seen[press.uuid] = target  # a repeat inside the batch is a duplicate of this press


async def _record(
    session: AsyncSession,
    fresh: list[tuple[Alarm, Press, Actor]],
    plan: list[tuple[str, Alarm, Press, Actor]],
    now: datetime,
) -> list[dict[str, object]]:
    """Presses, histories and escalation timers of the batch, one multi-row INSERT per table."""
    presses = [_press_values(alarm.id, press, now) for kind, alarm, press, _ in plan if kind != "duplicate"]
    details: list[dict[str, object]] = []
    events: list[dict[str, object]] = []
    due_timers: list[tuple[str, datetime, dict[str, Any], str | None]] = []
    for alarm, press, actor in fresh:
        detail = {
            "kind": press.kind.value,
            "source": press.source,
            "region": alarm.region_path,
            **press.detail,
        }
        details.append(detail)
        events.append(
            {
                "alarm_id": alarm.id,
                "at": now,
                "action": "raised",
                "actor_id": actor.id,
                "actor": actor.name,
                "note": press.note,
                "detail": detail,
            }
        )
        if alarm.ack_due_at is not None:
            level = alarm.escalation_level + 1
            payload: dict[str, Any] = {"alarm_id": alarm.id, "level": level}
            due_timers.append(
                (escalation.TIMER_KIND, alarm.ack_due_at, payload, escalation.timer_key(alarm.id, level))
            )
    if presses:
        await session.execute(insert(AlarmPress), presses)
    if events:
        await session.execute(insert(AlarmEvent), events)
    await timers.schedule_many(session, due_timers)
    return details


def _press_values(alarm_id: int, press: Press, now: datetime) -> dict[str, object]:
    return {
        "uuid": press.uuid,
        "alarm_id": alarm_id,
        "source": press.source,
        "pressed_at": press.pressed_at,
        "received_at": now,
        "seq": press.seq,
    }

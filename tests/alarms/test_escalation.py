"""Escalation on durable timers, driven by a ManualClock: fires iff no acknowledgement in time, per
station levels, and a timer due while the server was down fires when it starts again."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import func, select
from tests.support.alarms import Login, ctx_of, new_uuid, principal, runner
from tests.support.app import make_settings

from xueliang.alarms.models import Alarm, AlarmKind
from xueliang.alarms.push import audience_for
from xueliang.alarms.service import Press, intake
from xueliang.app import create_app
from xueliang.audit.models import AuditEvent
from xueliang.audit.service import SYSTEM
from xueliang.core.clock import ManualClock
from xueliang.notify.hub import Hub
from xueliang.regions.models import Household, Region

API = "/api/v1/alarms"


async def test_escalates_iff_not_acknowledged_in_time(
    alarm_app: FastAPI, alogin: Login, clock: ManualClock
) -> None:
    ctx = ctx_of(alarm_app)
    county = ctx.services.require(Hub).subscribe(audience_for(await principal(ctx.db, "admin")))
    late, prompt, op = await alogin("res-v08"), await alogin("res-v09"), await alogin("op-shimen")
    a = (await late.post(API, json={"uuid": new_uuid()})).json()["alarm"]
    b = (await prompt.post(API, json={"uuid": new_uuid()})).json()["alarm"]
    clock.advance(59)
    assert (await op.post(f"{API}/{b['id']}/acknowledge")).status_code == 200
    assert await runner(alarm_app).run_due() == 0
    clock.advance(2)
    assert await runner(alarm_app).run_due() == 1
    assert await runner(alarm_app).run_due() == 0  # fired once
    shown_a = (await op.get(f"{API}/{a['id']}")).json()
    shown_b = (await op.get(f"{API}/{b['id']}")).json()
    assert (
        shown_a["escalation_level"] == 1
        and shown_a["state"] == "new"
        and shown_a["events"][-1]["action"] == "escalated"
    )
    assert shown_a["events"][-1]["detail"]["to_region"] == "513223"
    assert shown_b["escalation_level"] == 0
    messages = []
    while not county.queue.empty():
        messages.append(json.loads(county.queue.get_nowait()))
    assert [m["event"] for m in messages if m["alarm"]["id"] == a["id"]] == ["raised", "escalated"]
    async with ctx.db.session() as s:
        q = select(func.count()).where(
            AuditEvent.action == "alarm.escalate", AuditEvent.target_id == str(a["id"])
        )
        assert await s.scalar(q) == 1
    ack = await op.post(f"{API}/{a['id']}/acknowledge")  # a late acknowledgement still counts
    assert ack.status_code == 200 and ack.json()["escalation_level"] == 1


async def test_acknowledging_after_the_deadline_escalates_first(
    alarm_app: FastAPI, alogin: Login, clock: ManualClock
) -> None:
    res, op = await alogin("res-v10"), await alogin("op-shimen")
    a = (await res.post(API, json={"uuid": new_uuid()})).json()["alarm"]
    clock.advance(60)  # due exactly now; the runner has not run
    ack = await op.post(f"{API}/{a['id']}/acknowledge")
    assert ack.json()["escalation_level"] == 1
    assert [e["action"] for e in (await op.get(f"{API}/{a['id']}")).json()["events"]] == [
        "raised",
        "escalated",
        "acknowledged",
    ]
    assert await runner(alarm_app).run_due() == 0  # its timer was settled by the acknowledgement


async def test_levels_per_station(alarm_app: FastAPI, alogin: Login, clock: ManualClock) -> None:
    admin, res = await alogin("admin"), await alogin("res-v06")
    async with ctx_of(alarm_app).db.session() as s:
        shimen = (await s.scalars(select(Region).where(Region.code == "513223102"))).one()
    assert (
        await admin.put(f"{API}/stations/{shimen.id}/config", json={"escalate_after_s": [30, 90]})
    ).status_code == 200
    a = (await res.post(API, json={"uuid": new_uuid()})).json()["alarm"]
    clock.advance(31)
    await runner(alarm_app).run_due()
    assert (await admin.get(f"{API}/{a['id']}")).json()["escalation_level"] == 1
    clock.advance(30)
    await runner(alarm_app).run_due()
    assert (await admin.get(f"{API}/{a['id']}")).json()["escalation_level"] == 1
    clock.advance(30)
    await runner(alarm_app).run_due()
    shown = (await admin.get(f"{API}/{a['id']}")).json()
    assert shown["escalation_level"] == 2 and shown["ack_due_at"] is None
    await admin.put(f"{API}/stations/{shimen.id}/config", json={"escalate_after_s": [60]})


async def test_escalation_due_during_downtime_fires_on_start(alarm_url: str, tmp_path: Path) -> None:
    clock = ManualClock()
    settings = make_settings(alarm_url, tmp_path, timer_loop=False)
    first = create_app(settings, clock=clock, migrate_on_start=False)
    async with first.router.lifespan_context(first):
        ctx = ctx_of(first)
        async with ctx.db.session() as s:
            hh = (await s.scalars(select(Household).order_by(Household.id.desc()))).first()
            assert hh is not None
            press = Press(
                uuid=new_uuid(),
                kind=AlarmKind.emergency,
                source="tv",
                region_id=hh.region_id,
                household_id=hh.id,
            )
            alarm_id = (await intake(s, press, SYSTEM, clock.now())).alarm.id
    clock.advance(600)  # the server is down for ten minutes
    second = create_app(settings.model_copy(update={"timer_loop": True}), clock=clock, migrate_on_start=False)
    async with second.router.lifespan_context(second):
        async with ctx_of(second).db.session() as s:
            alarm = await s.get(Alarm, alarm_id)
            assert alarm is not None and alarm.escalation_level == 1, "escalated on start, before any request"
            assert alarm.escalated_at == clock.now(), (alarm.received_at, alarm.ack_due_at, alarm.id)
        await asyncio.sleep(0)

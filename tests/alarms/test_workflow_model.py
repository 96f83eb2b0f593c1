"""Model-based test of the alarm workflow on the real database: random presses, retries, actions by
two staff members, clock jumps and timer runs. After every step the database must agree with a
simple model: no illegal state is reachable, illegal actions answer Conflict and change nothing,
and an alarm is escalated iff it was not acknowledged before its deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select
from tests.support.alarms import new_uuid, principal
from tests.support.app import make_settings

from xueliang.accounts.policy import Principal
from xueliang.alarms import escalation
from xueliang.alarms.models import Alarm, AlarmKind, AlarmState
from xueliang.alarms.runtime import escalation_handler
from xueliang.alarms.service import Press, intake, transition
from xueliang.alarms.workflow import Action, reachable, target
from xueliang.audit.service import Actor
from xueliang.core.clock import ManualClock
from xueliang.core.context import AppContext
from xueliang.core.db import Database
from xueliang.core.errors import Conflict
from xueliang.core.timers import TimerRunner
from xueliang.notify.hub import Hub

T = TypeVar("T")
DEADLINE_S = escalation.DEFAULT_ESCALATE_AFTER_S[0]


@dataclass
class Model:
    uuid: str
    state: AlarmState
    due: datetime
    acked_at: datetime | None = None
    escalated: bool = False


class WorkflowMachine(RuleBasedStateMachine):
    url = ""
    data_dir = Path(".")
    clock = ManualClock()

    alarms = Bundle("alarms")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.db = Database(self.url)
        self.clock.advance(86_400)  # past every deadline of earlier examples
        ctx = AppContext(
            settings=make_settings(self.url, self.data_dir), db=self.db, clock=self.clock, secret="s"
        )
        ctx.services.add(Hub())  # escalations push to the consoles' hub
        self.runner = TimerRunner(self.db, self.clock)
        self.runner.register(escalation.TIMER_KIND, escalation_handler(ctx))
        self.runner_stop = self.runner.stop
        self.staff: list[Principal] = [self.run(principal(self.db, u)) for u in ("op-qingxi", "duty-v01")]
        self.region_id = self.staff[1].region_id
        self.run(self.runner.run_due())  # settle earlier examples' timers
        self.model: dict[int, Model] = {}

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def teardown(self) -> None:
        self.run(self.runner_stop())
        self.run(self.db.dispose())
        self.loop.close()

    @rule(target=alarms)
    def press(self) -> int:
        key = new_uuid()
        p = Press(uuid=key, kind=AlarmKind.emergency, source="tv", region_id=self.region_id)

        async def go() -> Alarm:
            async with self.db.session() as s:
                result = await intake(s, p, Actor(None, "test"), self.clock.now())
                assert result.created
                return result.alarm

        alarm = self.run(go())
        self.model[alarm.id] = Model(key, AlarmState.new, self.clock.now() + timedelta(seconds=DEADLINE_S))
        return alarm.id

    @rule(alarm_id=alarms)
    def retry(self, alarm_id: int) -> None:
        m = self.model[alarm_id]
        p = Press(uuid=m.uuid, kind=AlarmKind.emergency, source="tv", region_id=self.region_id)

        async def go() -> None:
            async with self.db.session() as s:
                result = await intake(s, p, Actor(None, "test"), self.clock.now())
                assert result.duplicate and result.alarm.id == alarm_id

        self.run(go())

    @rule(alarm_id=alarms, action=st.sampled_from(Action), who=st.integers(0, 1))
    def act(self, alarm_id: int, action: Action, who: int) -> None:
        m = self.model[alarm_id]
        now = self.clock.now()
        expected = target(action, m.state)
        p = self.staff[who]

        async def go() -> None:
            async with self.db.session() as s:
                await transition(s, p, Actor(p.user_id, p.username), alarm_id, action, now, to="patrol")
                await s.commit()

        try:
            self.run(go())
        except Conflict:
            assert expected is None, f"{action} from {m.state} was refused"
            return
        assert expected is not None, f"{action} from {m.state} was allowed"
        if action is Action.acknowledge:
            m.escalated = m.escalated or now >= m.due
            m.acked_at = now
        m.state = expected

    @rule(seconds=st.sampled_from([1, 5, 29, 30, 31, 59, 60, 61, 120]))
    def advance(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @rule()
    def run_timers(self) -> None:
        self.run(self.runner.run_due())
        now = self.clock.now()
        for m in self.model.values():
            if m.state is AlarmState.new and now >= m.due:
                m.escalated = True

    @invariant()
    def database_agrees(self) -> None:
        if not self.model:
            return

        async def load() -> dict[int, Alarm]:
            async with self.db.session() as s:
                rows = await s.scalars(select(Alarm).where(Alarm.id.in_(list(self.model))))
                return {a.id: a for a in rows}

        rows = self.run(load())
        legal = reachable()
        for alarm_id, m in self.model.items():
            row = rows[alarm_id]
            assert row.state in legal
            assert row.state is m.state, (alarm_id, row.state, m.state)
            assert (row.escalation_level > 0) is m.escalated, (alarm_id, row.escalation_level, m)
            if m.escalated:
                assert m.acked_at is None or m.acked_at >= m.due
            elif m.acked_at is not None:
                assert m.acked_at < m.due
            assert (row.open_key is None) or row.state not in (AlarmState.resolved, AlarmState.false_alarm)


def test_workflow_state_machine(alarm_url: str, tmp_path: Path) -> None:
    WorkflowMachine.url = alarm_url
    WorkflowMachine.data_dir = tmp_path
    run_state_machine_as_test(
        WorkflowMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )

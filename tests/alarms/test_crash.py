"""No alarm lost: senders press bursts of alarms over HTTP at a real `python -m xueliang serve` while
it is killed with SIGKILL and restarted. Every press answered 2xx exists exactly once afterwards, a
retry with the same UUID never makes a second alarm, and escalations that fell due while the server
was dead fire as it starts."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from tests.support.alarms import new_uuid
from tests.support.net import free_port

from xueliang.alarms.models import Alarm, AlarmPress, AlarmState
from xueliang.core.db import Database
from xueliang.regions.models import Region, RegionLevel

SENDERS = ["duty-v01", "duty-v03", "duty-v06", "duty-v09"]
PRESSES_PER_SENDER = 40
KILL_EVERY = 40  # acknowledged presses between kills
KILLS = 2
ESCALATE_AFTER_S = 5


class Server:
    """The real server as a child process, killed without warning on demand."""

    def __init__(self, url: str, data_dir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = (data_dir / "server.log").open("ab")
        self.env = {
            **os.environ,
            "XUELIANG_DATABASE_URL": url,
            "XUELIANG_DATA_DIR": str(data_dir),
            "XUELIANG_PORT": str(self.port),
            "XUELIANG_SECRET_KEY": "crash-test-" + "k" * 32,
            "XUELIANG_ALARM_MQTT_ENABLED": "false",
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "xueliang", "serve"],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.starts += 1

    async def ready(self, wait_s: float = 90.0) -> None:
        deadline = time.monotonic() + wait_s
        async with httpx.AsyncClient(base_url=self.base, timeout=2) as c:
            while time.monotonic() < deadline:
                assert self.proc is not None and self.proc.poll() is None, "server exited on its own"
                try:
                    if (await c.get("/api/v1/me")).status_code == 401:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise AssertionError("server did not come up")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@pytest.fixture
def server(clone_db: Callable[[], str], tmp_path: Path) -> Iterator[Server]:
    srv = Server(clone_db(), tmp_path)
    yield srv
    srv.stop()


async def _token(c: httpx.AsyncClient, username: str) -> str:
    r = await c.post("/api/v1/auth/token", json={"username": username, "password": "xueliang-demo"})
    assert r.status_code == 200, r.text
    value: str = r.json()["access_token"]
    return value


class Burst:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.acked: dict[str, int] = {}  # uuid -> alarm id answered 2xx
        self.sent_with: dict[str, dict[str, str]] = {}  # uuid -> its sender's headers
        self.abandoned: set[str] = set()  # sent once, connection died, never retried
        self.progress = asyncio.Event()  # set on every acknowledged press
        self.pending: list[tuple[int, datetime]] = []  # unescalated alarms when the server last died
        self.done = False

    async def press(self, c: httpx.AsyncClient, headers: dict[str, str], n: int) -> None:
        key = new_uuid()
        body = {"uuid": key, "source": "pc", "note": f"burst {n}"}
        for attempt in range(2000):
            try:
                r = await c.post("/api/v1/alarms", json=body, headers=headers)
            except httpx.TransportError:
                if n % 7 == 0 and attempt == 0:  # some devices give up: unknown fate, never duplicated
                    self.abandoned.add(key)
                    return
                await asyncio.sleep(0.05)
                continue
            if r.status_code >= 500:
                await asyncio.sleep(0.05)
                continue
            assert r.status_code in (200, 201), r.text
            assert key not in self.acked
            self.acked[key] = r.json()["alarm"]["id"]
            self.sent_with[key] = headers
            self.progress.set()
            return
        raise AssertionError(f"press {key} never got through")

    async def sender(self, token: str) -> None:
        async with httpx.AsyncClient(base_url=self.server.base, timeout=10) as c:
            headers = {"Authorization": f"Bearer {token}"}
            for n in range(PRESSES_PER_SENDER):
                await self.press(c, headers, n)

    async def nemesis(self) -> None:
        for kill in range(KILLS):
            target = (kill + 1) * KILL_EVERY
            while len(self.acked) < target and not self.done:
                self.progress.clear()
                await self.progress.wait()
            if self.done:
                return
            self.server.kill()
            if kill == KILLS - 1:  # stay down past every pending deadline: on start they must fire
                self.pending = await _escalation_pending(self.server.env["XUELIANG_DATABASE_URL"])
                latest = max((d for _, d in self.pending), default=datetime.now(UTC))
                await asyncio.sleep(
                    max(0.0, (latest - datetime.now(UTC)).total_seconds()) + 0.1
                )  # a deadline
            else:
                await asyncio.sleep(0.2)  # presses meet a dead port
            self.server.start()
            await self.server.ready()


async def _escalation_pending(url: str) -> list[tuple[int, datetime]]:
    db = Database(url)
    try:
        async with db.session() as s:
            rows = await s.execute(
                select(Alarm.id, Alarm.ack_due_at).where(
                    Alarm.state == AlarmState.new, Alarm.ack_due_at.is_not(None)
                )
            )
            return [(i, d) for i, d in rows.all() if d is not None]
    finally:
        await db.dispose()


@pytest.mark.slow
async def test_no_acknowledged_alarm_is_lost(server: Server) -> None:
    url = server.env["XUELIANG_DATABASE_URL"]
    server.start()
    await server.ready()
    async with httpx.AsyncClient(base_url=server.base, timeout=10) as c:
        admin = {"Authorization": f"Bearer {await _token(c, 'admin')}"}
        db = Database(url)
        async with db.session() as s:
            towns = (await s.scalars(select(Region.id).where(Region.level == RegionLevel.township))).all()
        await db.dispose()
        for town in towns:
            r = await c.put(
                f"/api/v1/alarms/stations/{town}/config",
                json={"escalate_after_s": [ESCALATE_AFTER_S]},
                headers=admin,
            )
            assert r.status_code == 200

        tokens = [await _token(c, u) for u in SENDERS]  # sessions are rows: they survive the kills

    burst = Burst(server)
    nemesis = asyncio.create_task(burst.nemesis())
    await asyncio.gather(*(burst.sender(t) for t in tokens))
    burst.done = True
    burst.progress.set()
    await nemesis
    assert server.starts == KILLS + 1, "the nemesis did not kill the server as often as planned"

    # Its sender retrying any acknowledged press gets the same alarm, and nothing is created.
    async with httpx.AsyncClient(base_url=server.base, timeout=10) as c:
        for key in list(burst.acked)[:: max(1, len(burst.acked) // 40)]:
            headers = burst.sent_with[key]
            r = await c.post("/api/v1/alarms", json={"uuid": key, "source": "pc"}, headers=headers)
            assert (
                r.status_code == 200 and r.json()["duplicate"] and r.json()["alarm"]["id"] == burst.acked[key]
            )

    server.stop()
    pending = burst.pending
    assert pending, "expected unacknowledged alarms when the server was killed"

    db = Database(url)
    try:
        async with db.session() as s:
            presses = dict((await s.execute(select(AlarmPress.uuid, AlarmPress.alarm_id))).all())
            for key, alarm_id in burst.acked.items():
                assert presses.get(key) == alarm_id, f"acknowledged press {key} lost or moved"
            counts = (
                await s.execute(
                    select(Alarm.uuid, func.count()).group_by(Alarm.uuid).having(func.count() > 1)
                )
            ).all()
            assert counts == [], "an alarm was stored twice"
            stored = set((await s.scalars(select(Alarm.uuid))).all())
            assert set(burst.acked) <= stored
            assert len(stored & (set(burst.acked) | burst.abandoned)) <= len(burst.acked) + len(
                burst.abandoned
            )
            late = (
                await s.scalars(
                    select(Alarm.id).where(Alarm.id.in_([i for i, _ in pending]), Alarm.escalation_level == 0)
                )
            ).all()
            assert late == [], "escalations due while the server was down did not fire on start"
    finally:
        await db.dispose()
    assert len(burst.acked) == len(SENDERS) * PRESSES_PER_SENDER - len(burst.abandoned)

"""Camera leases between media processes, step by step on PostgreSQL (media/plane/leases.py): two
real media planes (engines that would pull the cameras) share four cameras; at every step no camera
is pulled by both; a joining plane gets cameras only after the holder released them; a lease taken
away (a higher epoch under another name) stops the camera at once; a stopping plane hands its
cameras back without waiting for expiry. The lease passes are driven by hand (`tick`), so each step
is one decision of one process; the timing with real processes is tests/ops/test_roles.py's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from tests.support.app import make_settings
from tests.support.db import BACKEND, seed_database
from xueliang.cameras.models import Camera
from xueliang.core.clock import SystemClock
from xueliang.core.context import AppContext
from xueliang.core.db import Database
from xueliang.media.config import MediaSettings
from xueliang.media.plane import MediaPlane
from xueliang.media.plane.leases import LeaseManager

pytestmark = pytest.mark.skipif(
    BACKEND != "postgresql", reason="leases are for several processes: PostgreSQL"
)


@pytest.fixture
async def lease_url(make_db_url: Callable[[], str]) -> AsyncIterator[str]:
    url = make_db_url()
    seed_database(url, rtsp_base="rtsp://127.0.0.1:1")  # nothing listens: the engines just retry
    db = Database(url)
    async with db.session() as s:
        ids = list((await s.scalars(select(Camera.id).order_by(Camera.id))).all())
        await s.execute(update(Camera).where(Camera.id.in_(ids[4:])).values(enabled=False))
        await s.commit()
    await db.dispose()
    yield url


async def member(url: str, tmp: Path, name: str) -> tuple[LeaseManager, MediaPlane]:
    settings = make_settings(url, tmp, role="media")
    ctx = AppContext(settings=settings, db=Database(url), clock=SystemClock(), secret="s" * 40)
    plane = MediaPlane(ctx, MediaSettings(rtsp_enabled=False))
    manager = LeaseManager(ctx, plane, name=name, url=f"http://{name}")
    plane.owns = manager.owns
    await plane.start()
    return manager, plane


def pulling(plane: MediaPlane, cameras: list[int]) -> set[int]:
    return {c for c in cameras if plane.engine.has_camera(c)}


async def test_release_before_acquire_fencing_and_hand_back(lease_url: str, tmp_path: Path) -> None:
    m1, p1 = await member(lease_url, tmp_path, "m1")
    m2, p2 = await member(lease_url, tmp_path, "m2")
    async with m1.ctx.db.session() as s:
        cameras = list((await s.scalars(select(Camera.id).where(Camera.enabled).order_by(Camera.id))).all())
    assert len(cameras) == 4
    try:

        def disjoint() -> None:
            assert not pulling(p1, cameras) & pulling(p2, cameras), "a camera pulled by two processes"
            assert pulling(p1, cameras) == set(m1.owned) and pulling(p2, cameras) == set(m2.owned)

        await m1.tick()  # alone: every camera
        assert pulling(p1, cameras) == set(cameras)
        await m2.tick()  # joins: a share of 2, but nothing is free yet
        disjoint()
        assert pulling(p2, cameras) == set()
        await m1.tick()  # over its share: stops 2 cameras, then frees their rows
        disjoint()
        assert len(pulling(p1, cameras)) == 2
        await m2.tick()  # takes the freed ones
        disjoint()
        assert len(pulling(p2, cameras)) == 2
        epochs = dict(m2.owned)

        victim = min(m2.owned)  # someone else holds it now (a higher epoch): m2 must stop it
        async with m1.ctx.db.session() as s:
            await s.execute(
                text("UPDATE camera_leases SET owner = 'intruder', epoch = epoch + 1 WHERE camera_id = :c"),
                {"c": victim},
            )
            await s.commit()
        await m2.tick()
        assert victim not in pulling(p2, cameras) and victim not in m2.owned
        assert all(epochs[c] == e for c, e in m2.owned.items())

        await m1.stop()  # hands back at once: its rows are free and it is no member any more
        assert pulling(p1, cameras) == set()
        await m2.tick()
        assert pulling(p2, cameras) == set(cameras) - {victim}
        async with m1.ctx.db.session() as s:
            rows = (await s.execute(text("SELECT camera_id, owner FROM camera_leases"))).all()
        owners: dict[int, str] = {int(c): str(o) for c, o in rows}
        assert {owners[c] for c in cameras} == {"m2", "intruder"}
    finally:
        for manager, plane in ((m1, p1), (m2, p2)):
            await manager.stop()
            await plane.stop()
            await manager.ctx.db.dispose()


async def test_readyz_of_a_media_process_follows_its_lease_rounds(lease_url: str, tmp_path: Path) -> None:
    """/readyz's check (ops/metrics.readiness) for a media process: not ready until its lease rounds
    run, ready while they do, not ready once they stopped."""
    from alembic.script import ScriptDirectory

    from xueliang.core import migrate
    from xueliang.ops.metrics import readiness

    manager, plane = await member(lease_url, tmp_path, "m-ready")
    manager.ctx.services.add(manager)
    heads = frozenset(ScriptDirectory.from_config(migrate.alembic_config(lease_url)).get_heads())
    try:
        ok, body = await readiness(manager.ctx, heads)
        assert not ok and body["message"] == "media role: camera leases not started"
        await manager.start()
        ok, body = await readiness(manager.ctx, heads)
        assert ok and body["role"] == "media", body
        await manager.stop()
        ok, body = await readiness(manager.ctx, heads)
        assert not ok and "not started" in body["message"]
    finally:
        await manager.stop()
        await plane.stop()
        await manager.ctx.db.dispose()

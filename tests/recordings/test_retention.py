"""Retention by age and by free space: the oldest unlocked segments go first, rows before files, and
an evidence lock keeps its range until it is released."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update
from tests.support.clips import encode_clip
from tests.support.recordings import Rig

from xueliang.accounts import service as accounts
from xueliang.audit.models import AuditEvent
from xueliang.audit.service import Actor
from xueliang.cameras.models import Camera
from xueliang.core.db import Database
from xueliang.media.frames import AccessUnit
from xueliang.recordings import service
from xueliang.recordings.models import EvidenceLock, RecordingSegment
from xueliang.recordings.retention import Guard, disk_usage, run_retention

DAY = 86_400.0


async def lock(db: Database, camera_id: int, start: datetime, end: datetime, reason: str) -> EvidenceLock:
    async with db.session() as session:
        user = await accounts.find_user(session, "op-qingxi")
        assert user is not None
        principal = await accounts.principal_for(session, user)
        made = await service.create_lock(
            session,
            principal,
            Actor(user.id, user.username),
            camera_id,
            start,
            end,
            reason,
            datetime.now(UTC),
        )
        await session.commit()
        return made


async def release(db: Database, lock_id: int) -> None:
    async with db.session() as session:
        user = await accounts.find_user(session, "op-qingxi")
        assert user is not None
        principal = await accounts.principal_for(session, user)
        await service.release_lock(
            session, principal, Actor(user.id, user.username), lock_id, datetime.now(UTC)
        )
        await session.commit()


async def test_age_rule_keeps_each_cameras_days_and_locked_ranges(
    rig_factory: Callable[..., Rig], village_cameras: list[int]
) -> None:
    cam = village_cameras[0]
    old = rig_factory(start=time.time() - 40 * DAY)  # older than the default 30 days
    await old.start(cam)
    await old.record(6.0)
    old.wall.advance(30.0)
    await old.record(2.0)  # a gap of 30 s, 40 days ago
    await old.recorder.stop()
    recent = rig_factory(start=time.time() - 120, root=old.root)
    await recent.start(cam)
    await recent.record(4.0)
    await recent.recorder.stop()
    rows = await old.segments(cam)
    old_rows = [r for r in rows if r.starts_at.timestamp() < time.time() - DAY]
    assert len(old_rows) >= 4
    kept = old_rows[1]
    made = await lock(old.db, cam, kept.starts_at, kept.ends_at, "assault report 17")
    now = datetime.now(UTC)

    report = await run_retention(old.db, old.root, Guard(0, 0), now)
    assert report.by_age == len(old_rows) - 1 and report.by_space == 0
    left = await old.segments(cam)
    assert [r.id for r in left] == [kept.id] + [r.id for r in rows if r not in old_rows]
    assert all((old.root / r.path).stat().st_size == r.bytes for r in left)
    assert not any((old.root / r.path).exists() for r in old_rows if r.id != kept.id)
    gaps = await old.gaps(cam)  # the 30 s hole of 40 days ago went with its video; the stop gap is current
    assert [g.reason for g in gaps] == ["recorder stopped", "recorder stopped"]
    assert all(g.ends_at is None or g.ends_at.timestamp() > time.time() - DAY for g in gaps)
    async with old.db.session() as session:
        audited = (
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "recording.retention.delete")
                .order_by(AuditEvent.seq.desc())
                .limit(1)
            )
        ).one()
    assert audited.detail["by_age"] == report.by_age and audited.detail["cameras"] == [cam]

    await release(old.db, made.id)
    again = await run_retention(old.db, old.root, Guard(0, 0), now)
    assert again.by_age == 1
    assert kept.id not in {r.id for r in await old.segments(cam)}


async def set_retention(db: Database, days: dict[int, int]) -> dict[int, int]:
    """Sets each camera's retention days and returns what they were."""
    async with db.session() as session:
        rows = await session.execute(select(Camera.id, Camera.retention_days).where(Camera.id.in_(days)))
        before = {camera_id: value for camera_id, value in rows}
        for camera_id, value in days.items():
            await session.execute(update(Camera).where(Camera.id == camera_id).values(retention_days=value))
        await session.commit()
    return before


async def test_age_rule_applies_each_cameras_own_days_when_cameras_share_a_run(
    rig_factory: Callable[..., Rig], village_cameras: list[int]
) -> None:
    """Cameras are pruned in groups of equal retention days; a group must not lend its cutoff to
    another camera, nor hold back one of its own."""
    short, long, also_short = village_cameras[:3]
    old = rig_factory(start=time.time() - 40 * DAY)
    await old.start(short, long, also_short)
    await old.record(4.0)
    await old.recorder.stop()
    for cam in (short, long, also_short):
        assert len(await old.segments(cam)) >= 2
    seeded = await set_retention(old.db, {short: 30, long: 45, also_short: 30})
    try:
        report = await run_retention(old.db, old.root, Guard(0, 0), datetime.now(UTC))
        assert report.cameras == {short, also_short}
        assert await old.segments(short) == [] and await old.segments(also_short) == []
        kept = await old.segments(long)
        assert len(kept) >= 2 and all((old.root / r.path).exists() for r in kept)
        assert report.by_age == report.deleted > 0

        await set_retention(old.db, {long: 39})
        again = await run_retention(old.db, old.root, Guard(0, 0), datetime.now(UTC))
        assert again.cameras == {long} and again.by_age == len(kept)
        assert await old.segments(long) == []
        assert not any((old.root / r.path).exists() for r in kept)
    finally:
        await set_retention(old.db, seeded)


def test_guard_is_the_larger_of_percent_and_bytes() -> None:
    from xueliang.recordings.retention import DiskUsage

    guard = Guard(5.0, 10 << 30)
    assert guard.needed(DiskUsage(100 << 30, 0, 0)) == 10 << 30
    assert guard.needed(DiskUsage(1 << 40, 0, 0)) == (1 << 40) // 20


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs of its own, so free space is ours to measure (needs root, as CI has)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture(scope="module")
def heavy_clip() -> list[AccessUnit]:
    """Noisy pictures: tens of KB a frame, so a few seconds make megabytes."""
    return encode_clip(frames=50, gop=25, width=320, height=192, noise=True)


async def test_free_space_rule_deletes_oldest_unlocked_first(
    rig_factory: Callable[..., Rig],
    village_cameras: list[int],
    small_disk: Path,
    heavy_clip: list[AccessUnit],
) -> None:
    root = small_disk / "recordings"
    cams = village_cameras[:2]
    rig = rig_factory(start=time.time() - 3600, root=root)
    rig.clip = heavy_clip
    await rig.start(*cams)
    await rig.record(10.0)
    await rig.recorder.stop()
    rows = sorted(await rig.segments(), key=lambda r: r.starts_at)
    assert len(rows) >= 8 and sum(r.bytes for r in rows) > 6 << 20
    oldest = rows[0]
    await lock(rig.db, oldest.camera_id, oldest.starts_at, oldest.ends_at, "evidence")
    free = disk_usage(root).free
    guard = Guard(0, free + (3 << 20))  # three more MiB must be freed

    report = await run_retention(rig.db, root, guard, datetime.now(UTC))
    assert report.by_age == 0 and report.by_space >= 2 and not report.short_of_space
    assert disk_usage(root).free >= guard.min_free_bytes
    left = {r.id for r in await rig.segments()}
    assert oldest.id in left  # locked: kept although it is the oldest
    gone = [r for r in rows if r.id not in left]
    unlocked = [r for r in rows if r.id != oldest.id]
    assert gone == unlocked[: len(gone)]  # strictly the oldest of the others, whatever the camera
    assert {r.camera_id for r in gone} == set(cams)
    assert all(not (root / r.path).exists() for r in gone)

    everything = Guard(0, disk_usage(root).total)  # cannot be met: all that is left is deleted but the lock
    short = await run_retention(rig.db, root, everything, datetime.now(UTC))
    assert short.short_of_space
    async with rig.db.session() as session:
        assert list(await session.scalars(select(RecordingSegment.id))) == [oldest.id]

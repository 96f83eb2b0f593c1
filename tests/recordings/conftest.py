"""Recording tests: one seeded database for the package (SQLite or PostgreSQL), real libx264 clips fed
through a real Channel into the real Recorder and database index, on a wall clock the test moves.

The clock is the only thing the tests control: frames are pushed as fast as Python goes while the
recorder believes 40 ms pass between them, so a minute of recording takes a fraction of a second."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from tests.support.clips import encode_clip
from tests.support.db import seed_database
from tests.support.recordings import VILLAGE_1, Rig, Wall, at, run_async

from xueliang.cameras.models import Camera
from xueliang.core.db import Database
from xueliang.media.frames import AccessUnit
from xueliang.media.recording.recorder import RecorderConfig
from xueliang.recordings.models import EvidenceLock, RecordingExport, RecordingGap, RecordingSegment


@pytest.fixture(scope="package")
def rec_url(make_db_url: Callable[[], str]) -> str:
    url = make_db_url()
    seed_database(url)
    return url


async def _clean(url: str) -> None:
    db = Database(url)
    try:
        async with db.session() as session:
            for table in (RecordingExport, EvidenceLock, RecordingGap, RecordingSegment):
                await session.execute(delete(table))
            await session.commit()
    finally:
        await db.dispose()


@pytest.fixture(autouse=True)
def clean_recordings(rec_url: str) -> Iterator[None]:
    """Each test starts with an empty index (files live under each test's tmp_path)."""
    run_async(lambda: _clean(rec_url))
    yield


@pytest.fixture(scope="package")
def village_cameras(rec_url: str) -> list[int]:
    """Ids of the cameras of village 1, the first being non-public (residents never see recordings
    of any camera, public or not; both kinds are covered)."""

    async def load() -> list[int]:
        from xueliang.regions.models import Region

        db = Database(rec_url)
        try:
            async with db.session() as session:
                rows = await session.execute(
                    select(Camera.id, Camera.public_view)
                    .join(Region, Region.id == Camera.region_id)
                    .where(Region.code == VILLAGE_1)
                    .order_by(Camera.id)
                )
                pairs = list(rows)
        finally:
            await db.dispose()
        pairs.sort(key=lambda p: p[1])  # non-public first
        return [p[0] for p in pairs]

    return run_async(load)


@pytest.fixture(scope="package")
def clip() -> list[AccessUnit]:
    """2 s at 25 fps, keyframe every second: real libx264 output."""
    return encode_clip(frames=50, gop=25, width=160, height=96)


@pytest.fixture
async def rig_factory(
    rec_url: str, clip: list[AccessUnit], tmp_path: Path
) -> AsyncIterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(start: float = at(2026, 11, 1, 8), root: Path | None = None, **config: float) -> Rig:
        settings = {"segment_seconds": 2.0, **config}
        rig = Rig(rec_url, root or tmp_path / "recordings", clip, Wall(start), RecorderConfig(**settings))  # type: ignore[arg-type]
        made.append(rig)
        return rig

    yield make
    for rig in made:
        if rig.recorder._task is not None:
            await rig.close()
        else:
            await rig.db.dispose()

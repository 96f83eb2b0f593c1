"""The recorder writes the channel's fragments as segment files that FFmpeg decodes, indexed exactly:
rotation at keyframes, one folder per camera per UTC day, contiguous times, explicit gaps."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

from tests.support.recordings import Rig, at, decode

from xueliang.media.recording.scan import scan_path
from xueliang.recordings.models import SegmentState


async def test_every_segment_decodes_and_matches_its_row(
    rig_factory: Callable[..., Rig], village_cameras: list[int]
) -> None:
    rig = rig_factory()
    cam = village_cameras[0]
    await rig.start(cam)
    await rig.record(9.0)
    await rig.recorder.stop()
    rows = await rig.segments(cam)
    assert len(rows) >= 4
    assert all(r.state is SegmentState.closed for r in rows)
    assert sum(r.frames for r in rows) == 225  # every frame pushed is in exactly one file
    for before, after in itertools.pairwise(rows):
        assert after.starts_at == before.ends_at  # contiguous: no hole, no overlap
        assert after.media_start == before.media_end
    for row in rows:
        path = rig.root / row.path
        assert path.parent.name == "2026-11-01" and path.parent.parent.name == str(cam)
        assert path.stat().st_size == row.bytes
        scan = scan_path(path)
        assert scan.problem == "" and len(scan.fragments) == row.frames
        assert [list(k) for k in scan.keyframes()] == row.keyframes
        assert scan.fragments[0].keyframe
        video = decode(path)
        assert video.frames == row.frames
        assert abs(video.duration - (row.ends_at - row.starts_at).total_seconds()) < 0.041
        assert abs(video.duration - (row.media_end - row.media_start) / 90_000) < 1e-6
    assert (rows[0].ends_at - rows[0].starts_at).total_seconds() >= 2.0  # cut at the first key after 2 s


async def test_a_day_boundary_starts_a_new_folder(
    rig_factory: Callable[..., Rig], village_cameras: list[int]
) -> None:
    rig = rig_factory(start=at(2026, 11, 1, 23, 59, 57.0))
    cam = village_cameras[0]
    await rig.start(cam)
    await rig.record(6.0)
    await rig.recorder.stop()
    days = {Path(r.path).parent.name for r in await rig.segments(cam)}
    assert days == {"2026-11-01", "2026-11-02"}


async def test_holes_and_offline_are_explicit_gaps(
    rig_factory: Callable[..., Rig], village_cameras: list[int]
) -> None:
    rig = rig_factory()
    cam = village_cameras[0]
    await rig.start(cam)
    await rig.record(3.0)
    rig.wall.advance(10.0)  # the camera sends nothing for 10 s but never goes offline
    await rig.record(3.0)
    rig.recorder.camera_offline(cam, "no data for 10 s")
    await rig.recorder.flush()
    gaps = await rig.gaps(cam)
    assert [g.reason for g in gaps] == [gaps[0].reason, "camera offline: no data for 10 s"]
    assert gaps[0].reason.startswith("no video for 10.")
    assert gaps[1].ends_at is None  # still offline
    rig.wall.advance(20.0)
    await rig.record(3.0)
    await rig.recorder.stop()
    gaps = await rig.gaps(cam)
    rows = await rig.segments(cam)
    offline = gaps[1]
    assert offline.ends_at is not None
    # The gap runs exactly from the end of the last recording to the start of the next one.
    assert any(r.ends_at == offline.starts_at for r in rows)
    assert any(r.starts_at == offline.ends_at for r in rows)
    assert 19.0 < (offline.ends_at - offline.starts_at).total_seconds() < 21.5
    assert gaps[-1].reason == "recorder stopped" and gaps[-1].ends_at is None


async def test_start_up_repairs_a_torn_segment(
    rig_factory: Callable[..., Rig], village_cameras: list[int]
) -> None:
    """What a crash leaves: a row still `open`, its file ending in half a fragment. The next start cuts
    the file back to the last whole fragment, closes the row to match, and a gap marks the restart."""
    rig = rig_factory(segment_seconds=60.0)
    cam = village_cameras[0]
    await rig.start(cam)
    await rig.record(3.0)
    (row,) = await rig.segments(cam)
    assert row.state is SegmentState.open
    path = rig.root / row.path
    written = path.stat().st_size
    scan = scan_path(path)
    last = scan.fragments[-1]
    with path.open("ab") as fh:  # half of a fragment more, as a killed writer leaves it
        fh.write(path.read_bytes()[last.offset : last.offset + last.size // 2])
    rig.recorder._task.cancel()  # type: ignore[union-attr]  # the process "dies": nothing is closed
    rig.recorder._tracks.clear()

    restart = rig_factory(start=rig.wall.now + 30.0, segment_seconds=60.0)
    await restart.start()
    (fixed,) = await restart.segments(cam)
    assert fixed.state is SegmentState.closed and fixed.repaired
    assert fixed.bytes == written == path.stat().st_size
    assert fixed.frames == len(scan.fragments) == decode(path).frames
    assert (fixed.ends_at - fixed.starts_at).total_seconds() == (scan.media_end - scan.media_start) / 90_000
    restart.add(cam)
    await restart.record(2.0)
    await restart.recorder.stop()
    gaps = await restart.gaps(cam)
    assert gaps[0].starts_at == fixed.ends_at and gaps[0].reason == "recorder started"


async def test_a_crash_before_any_byte_drops_the_row(
    rig_factory: Callable[..., Rig], village_cameras: list[int]
) -> None:
    rig = rig_factory(segment_seconds=60.0)
    cam = village_cameras[0]
    await rig.start(cam)
    await rig.record(1.0)
    (row,) = await rig.segments(cam)
    (rig.root / row.path).write_bytes(b"\x00\x00\x00\x20ftypisom")  # torn inside the init segment
    rig.recorder._task.cancel()  # type: ignore[union-attr]
    rig.recorder._tracks.clear()
    restart = rig_factory(segment_seconds=60.0)
    await restart.start()
    assert await restart.segments(cam) == []
    assert not (rig.root / row.path).exists()
    assert restart.index.repaired == [(row.path, "dropped: no complete fragment")]

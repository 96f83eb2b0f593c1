"""Evidence export verification (one changed byte is caught and its file named) and the command line:
`xueliang export verify`, `xueliang recordings list|verify|prune`, as an operator runs them."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.support.cli import Cli
from tests.support.recordings import Rig, decode

from xueliang.recordings import export as exporting
from xueliang.recordings import signing


async def make_export(
    rig: Rig, camera_id: int, out: Path, data_dir: Path, lo: float, hi: float
) -> exporting.RemuxResult:
    rows = await rig.segments(camera_id)
    sources = [
        exporting.Source(
            rig.root / r.path, r.starts_at.timestamp(), r.ends_at.timestamp(), r.bytes, r.media_start
        )
        for r in rows
        if r.ends_at.timestamp() > lo and r.starts_at.timestamp() < hi
    ]
    out.mkdir(parents=True)  # noqa: ASYNC240 - a test helper; the app does this in a thread
    result = exporting.remux(sources, lo, hi, out, "cam")
    meta = {"camera": {"id": camera_id}, "reason": "test", "operator": {"username": "op-qingxi"}}
    exporting.write_manifest(
        out, result.files, {**meta, **exporting.range_meta(lo, hi, result)}, signing.load_or_create(data_dir)
    )
    return result


def flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


async def test_verify_names_the_file_with_one_changed_byte(
    rig_factory: Callable[..., Rig], village_cameras: list[int], tmp_path: Path
) -> None:
    cam = village_cameras[0]
    rig = rig_factory()
    await rig.start(cam)
    await rig.record(3.0)
    rig.wall.advance(5.0)
    await rig.record(3.0)
    await rig.recorder.stop()
    rows = await rig.segments(cam)
    t0 = rows[0].starts_at.timestamp()
    data_dir = tmp_path / "node"
    original = tmp_path / "export"
    # From the middle of the first GOP (decoding starts at its keyframe) across the 5 s hole.
    result = await make_export(rig, cam, original, data_dir, t0 + 0.5, rows[-1].ends_at.timestamp())
    video = decode(result.files[0])
    assert video.frames == 150 and result.first == t0
    assert abs(video.duration - (rows[-1].ends_at.timestamp() - t0)) < 0.05  # the hole stays a hole in time
    trusted = signing.load_public(data_dir)
    assert exporting.verify(original, trusted).ok

    def tampered(name: str, change: Callable[[Path], None]) -> list[tuple[str, str]]:
        copy = tmp_path / f"copy-{name}"
        shutil.copytree(original, copy)
        change(copy)
        report = exporting.verify(copy, trusted)
        assert not report.ok
        return [(p.file, p.what) for p in report.problems]

    mp4 = result.files[0].name
    size = result.files[0].stat().st_size
    for offset in (0, size // 2, size - 1):  # header, pictures, last byte
        assert tampered(f"mp4-{offset}", lambda d, o=offset: flip(d / mp4, o)) == [
            (mp4, "changed: SHA-256 differs from the manifest")
        ]
    problems = tampered("manifest", lambda d: flip(d / exporting.MANIFEST, 40))
    assert [p[0] for p in problems] == [exporting.MANIFEST]
    problems = tampered("sig", lambda d: flip(d / exporting.SIGNATURE, 3))
    assert [p[0] for p in problems] in ([exporting.MANIFEST], [exporting.SIGNATURE])
    assert tampered("extra", lambda d: (d / "note.txt").write_text("x")) == [
        ("note.txt", "not part of the export")
    ]
    assert tampered("gone", lambda d: (d / mp4).unlink()) == [(mp4, "missing")]
    other_node = signing.public_raw(signing.load_or_create(tmp_path / "other-node"))
    report = exporting.verify(original, other_node)
    assert [(p.file, p.what) for p in report.problems] == [
        (exporting.MANIFEST, "signed by another key than this node's")
    ]


async def test_command_line(
    rig_factory: Callable[..., Rig], village_cameras: list[int], tmp_path: Path, rec_url: str
) -> None:
    cam = village_cameras[0]
    data_dir = tmp_path / "data"
    rig = rig_factory(start=time.time() - 40 * 86_400, root=data_dir / "recordings")
    await rig.start(cam)
    await rig.record(6.0)
    await rig.recorder.stop()
    rows = await rig.segments(cam)
    cli = Cli(rec_url, data_dir)

    listed = cli("recordings", "list", "--camera", str(cam))
    assert listed.returncode == 0, listed.stderr
    assert all(r.path in listed.stdout for r in rows) and f"{len(rows)} segment(s)" in listed.stdout

    ok = cli("recordings", "verify", "--deep")
    assert ok.returncode == 0, ok.stderr
    assert f"{len(rows)} segment(s) match the index (fragments parsed)" in ok.stdout
    short, missing = rig.root / rows[0].path, rig.root / rows[1].path
    whole = short.read_bytes()
    with short.open("r+b") as fh:
        fh.truncate(rows[0].bytes - 10)
    saved = missing.read_bytes()
    missing.unlink()
    bad = cli("recordings", "verify")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert f"{rows[0].path}: {rows[0].bytes - 10} bytes on disk" in bad.stderr.replace("\n", "")
    assert f"{rows[1].path}: file missing" in bad.stderr
    assert "error: 2 of" in bad.stderr
    missing.write_bytes(saved)
    short.write_bytes(whole)

    export_dir = tmp_path / "export"
    await make_export(
        rig, cam, export_dir, data_dir, rows[0].starts_at.timestamp(), rows[-1].ends_at.timestamp()
    )
    valid = cli("export", "verify", str(export_dir))
    assert valid.returncode == 0, valid.stderr
    assert "export valid: 1 file(s)" in valid.stdout and "signer not checked" not in valid.stdout
    (mp4,) = export_dir.glob("*.mp4")
    flip(mp4, mp4.stat().st_size // 3)
    changed = cli("export", "verify", str(export_dir))
    assert changed.returncode == 1 and "Traceback" not in changed.stderr
    assert (
        f"{mp4.name}: changed" in changed.stderr and f"error: export NOT valid: {mp4.name}" in changed.stderr
    )
    assert cli("export", "verify", str(tmp_path / "nowhere")).stderr.startswith("error:")

    pruned = cli("recordings", "prune")  # 40 days old, 30 days kept; the guard is the default (5 % / 10 GB)
    assert "Traceback" not in pruned.stderr
    if pruned.returncode == 0:
        assert f"deleted {len(rows)} segment(s)" in pruned.stdout and f"({len(rows)} by age" in pruned.stdout
    else:  # a disk with under 10 GB free: the guard deleted what it could and says it cannot do more
        assert "free-space guard cannot be met" in pruned.stderr
    assert await rig.segments(cam) == []
    assert not short.exists()


@pytest.mark.parametrize("offset", [0, 7, 100])
def test_scan_reports_a_torn_file_at_any_cut(tmp_path: Path, offset: int) -> None:
    from tests.support.clips import encode_clip

    from xueliang.media.channel import Channel, Fragment, InitSegment
    from xueliang.media.recording.scan import repair_path, scan_path

    items: list[InitSegment | Fragment] = []
    channel = Channel(1)
    channel.add_listener(items.append)
    for au in encode_clip(frames=10, gop=5, width=64, height=64):
        channel.push(au)
    data = b"".join(i.data for i in items)
    whole = tmp_path / "whole.mp4"
    whole.write_bytes(data)
    complete = scan_path(whole)
    assert complete.problem == "" and len(complete.fragments) == 10 and complete.valid_size == len(data)
    last = complete.fragments[-1]
    torn = tmp_path / "torn.mp4"
    torn.write_bytes(data[: last.offset + min(offset, last.size - 1)])
    scan = scan_path(torn)
    assert len(scan.fragments) == 9 and scan.valid_size == last.offset
    assert scan.problem.startswith("torn write") or offset == 0
    repaired = repair_path(torn)
    assert torn.stat().st_size == last.offset == repaired.valid_size
    assert decode(torn).frames == 9

"""`xueliang recordings` (the index against the files, retention) and `xueliang export` (evidence
exports)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.cli.support import ConfigOpt, err, fail, out, run_db, settings_from
from xueliang.config import Settings
from xueliang.core.clock import SystemClock
from xueliang.core.db import Database

recordings_app = typer.Typer(
    help="Recordings: list the index, check it against the files, prune.", no_args_is_help=True
)
export_app = typer.Typer(help="Evidence exports.", no_args_is_help=True)


def _progress() -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err, transient=True,
    )  # fmt: skip


def _recordings_root(settings: Settings) -> Path:
    return settings.recording.root(settings)


@recordings_app.command("list")
def recordings_list(
    camera: Annotated[int | None, typer.Option(help="camera id")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="newest N segments")] = 50,
    config: ConfigOpt = None,
) -> None:
    """The newest segments in the index (newest first), and gaps are shown by `timeline` in the API."""
    from xueliang.recordings import service as recordings

    rows = run_db(settings_from(config), lambda s: recordings.camera_segments(s, camera, None, None, limit))
    table = Table("id", "camera", "start (UTC)", "seconds", "MB", "frames", "state", "path")
    for row in rows:
        seconds = (row.ends_at - row.starts_at).total_seconds()
        state = row.state.value + (" (repaired)" if row.repaired else "")
        table.add_row(
            str(row.id), str(row.camera_id), f"{row.starts_at:%Y-%m-%d %H:%M:%S}", f"{seconds:.1f}",
            f"{row.bytes / 1e6:.2f}", str(row.frames), state, row.path,
        )  # fmt: skip
    out.print(table)
    out.print(f"{len(rows)} segment(s)")


@recordings_app.command("verify")
def recordings_verify(
    camera: Annotated[int | None, typer.Option(help="only this camera id")] = None,
    deep: Annotated[bool, typer.Option(help="parse every file's fragments, not only its size")] = False,
    config: ConfigOpt = None,
) -> None:
    """Check that every indexed segment's file exists and holds exactly the indexed bytes."""
    from sqlalchemy import func, select

    from xueliang.media.recording.scan import scan_path
    from xueliang.recordings.models import RecordingSegment, SegmentState

    settings = settings_from(config)
    root = _recordings_root(settings)

    async def job(session: AsyncSession) -> tuple[int, list[tuple[str, str]]]:
        where = [] if camera is None else [RecordingSegment.camera_id == camera]
        total = (await session.scalar(select(func.count()).select_from(RecordingSegment).where(*where))) or 0
        problems: list[tuple[str, str]] = []
        with _progress() as progress:
            task = progress.add_task("verifying segments", total=total)
            stream = await session.stream_scalars(
                select(RecordingSegment)
                .where(*where)
                .order_by(RecordingSegment.id)
                .execution_options(yield_per=500)
            )
            async for row in stream:
                progress.advance(task)
                path = root / row.path
                is_open = row.state is SegmentState.open
                try:
                    size = path.stat().st_size
                except OSError:
                    problems.append((row.path, "file missing"))
                    continue
                if size < row.bytes or (size != row.bytes and not is_open):
                    problems.append((row.path, f"{size} bytes on disk, index says {row.bytes}"))
                    continue
                if deep:
                    scan = scan_path(path)
                    if scan.valid_size < row.bytes or len(scan.fragments) < row.frames:
                        problems.append((row.path, scan.problem or "fewer fragments than indexed"))
                    elif not is_open and (scan.problem or len(scan.fragments) != row.frames):
                        problems.append((row.path, scan.problem or "fragment count differs from the index"))
        return total, problems

    total, problems = run_db(settings, job)
    for path, what in problems:
        err.print(f"[red]{path}:[/] {what}", highlight=False)
    if problems:
        raise fail(f"{len(problems)} of {total} segment(s) do not match the index")
    out.print(f"{total} segment(s) match the index" + (" (fragments parsed)" if deep else ""))


@recordings_app.command("prune")
def recordings_prune(config: ConfigOpt = None) -> None:
    """Apply retention now: each camera's days, then the free-space guard (locked ranges are kept)."""
    from xueliang.recordings.retention import Guard, RetentionReport, run_retention

    settings = settings_from(config)
    recording = settings.recording
    root = recording.root(settings)
    if not root.is_dir():
        raise fail(f"no recordings directory at {root}")
    guard = Guard(recording.min_free_percent, recording.min_free_bytes)

    async def job(session: AsyncSession) -> RetentionReport:
        from rich.progress import Progress, SpinnerColumn, TextColumn

        db = Database(settings.resolved_database_url())
        try:
            with Progress(SpinnerColumn(), TextColumn("{task.description} {task.completed}"), console=err,
                          transient=True) as progress:  # fmt: skip
                task = progress.add_task("segments deleted", total=None)
                return await run_retention(
                    db, root, guard, SystemClock().now(), progress=lambda n: progress.advance(task, n)
                )
        finally:
            await db.dispose()

    report = run_db(settings, job)
    out.print(
        f"deleted {report.deleted} segment(s), {report.bytes / 1e6:.1f} MB "
        f"({report.by_age} by age, {report.by_space} for free space); "
        f"free {report.free_bytes / 1e9:.2f} GB, guard {report.needed_bytes / 1e9:.2f} GB"
    )
    if report.short_of_space:
        raise fail("the free-space guard cannot be met: all remaining recordings are locked or being written")


@export_app.command("verify")
def export_verify(
    directory: Annotated[Path, typer.Argument(help="an export folder (manifest.json, manifest.sig, MP4)")],
    key: Annotated[
        Path | None, typer.Option(help="PEM key (public or private) the manifest must be signed with")
    ] = None,
    any_key: Annotated[bool, typer.Option(help="accept any signer (check integrity only)")] = False,
    config: ConfigOpt = None,
) -> None:
    """Say whether an export is intact, or name each file that changed."""
    from cryptography.hazmat.primitives import serialization
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from xueliang.recordings import export as exporting
    from xueliang.recordings import signing

    if not directory.is_dir():
        raise fail(f"{directory} is not a folder")
    trusted: bytes | None = None
    if key is not None:
        try:
            data = key.read_bytes()
            loaded: Any = (
                serialization.load_pem_private_key(data, None).public_key()
                if b"PRIVATE" in data
                else serialization.load_pem_public_key(data)
            )
            trusted = loaded.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise fail(f"cannot read the key {key}: {exc}") from None
    elif not any_key:
        trusted = signing.load_public(settings_from(config).data_dir)
    total = sum(p.stat().st_size for p in directory.iterdir() if p.is_file())
    with Progress(
        TextColumn("hashing"), BarColumn(), DownloadColumn(), console=err, transient=True
    ) as progress:
        task = progress.add_task("hashing", total=total)
        report = exporting.verify(directory, trusted, progress=lambda n: progress.advance(task, n))
    for line in report.lines():
        err.print(f"[red]{line}[/]", highlight=False)
    if not report.ok:
        names = ", ".join(sorted({p.file for p in report.problems}))
        raise fail(f"export NOT valid: {names}")
    manifest = report.manifest or {}
    camera = manifest.get("camera", {})
    span = manifest.get("range", {})
    out.print(
        f"export valid: {len(manifest.get('files', []))} file(s), camera {camera.get('gb_id', '?')}, "
        f"{span.get('from')} – {span.get('to')}, signed by {report.fingerprint}"
        + ("" if trusted is not None else " (signer not checked against a trusted key)")
    )

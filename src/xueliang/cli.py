"""`xueliang` command line: serve, demo, and admin tasks. Bad input ends with one line saying what is
wrong and a non-zero exit code, never a traceback and never half a job."""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts import service as accounts
from xueliang.accounts.models import Role
from xueliang.accounts.policy import Principal
from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.cameras import csv_import
from xueliang.cameras import service as cameras
from xueliang.cameras.models import CameraKind
from xueliang.config import Settings, load_settings
from xueliang.core import migrate
from xueliang.core.clock import SystemClock
from xueliang.core.db import Database
from xueliang.core.errors import AppError
from xueliang.regions import geojson_import

app = typer.Typer(
    help="Xueliang rural safety platform.", no_args_is_help=True, pretty_exceptions_enable=False
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
camera_app = typer.Typer(help="Cameras.", no_args_is_help=True)
region_app = typer.Typer(help="Regions.", no_args_is_help=True)
audit_app = typer.Typer(help="Audit trail.", no_args_is_help=True)
for sub, name in (
    (db_app, "db"),
    (user_app, "user"),
    (camera_app, "camera"),
    (region_app, "region"),
    (audit_app, "audit"),
):
    app.add_typer(sub, name=name)

out = Console()
err = Console(stderr=True)
T = TypeVar("T")
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML settings file", exists=True, dir_okay=False)
]


class CliError(Exception):
    """Ends the command with its message and exit code 1."""


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def settings_from(config: Path | None) -> Settings:
    return load_settings(config)


def cli_actor() -> Actor:
    return Actor(None, f"cli:{getpass.getuser()}", "local")


CLI_PRINCIPAL = Principal(0, "cli", Role.admin, 0, "")  # the operator at the console owns the whole tree


def run_db(
    settings: Settings, job: Callable[[AsyncSession], Coroutine[Any, Any, T]], *, upgrade: bool = True
) -> T:
    """Run `job` in one session; any error rolls everything back and exits with a clear line."""

    async def main() -> T:
        url = settings.resolved_database_url()
        if upgrade:
            await migrate.upgrade_async(url)
        db = Database(url)
        try:
            async with db.session() as session:
                try:
                    return await job(session)
                except BaseException:
                    await session.rollback()
                    raise
        finally:
            await db.dispose()

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        return asyncio.run(main())
    except AppError as exc:
        raise fail(exc.message) from None
    except CliError as exc:
        raise fail(str(exc)) from None
    except OperationalError as exc:
        raise fail(f"database error: {exc.orig}") from None
    except SQLAlchemyError as exc:
        raise fail(f"database error: {exc}") from None
    except ConnectionError as exc:
        raise fail(f"database error: cannot connect: {exc}") from None
    except OSError as exc:
        raise fail(str(exc)) from None


@app.command()
def serve(config: ConfigOpt = None, host: str | None = None, port: int | None = None) -> None:
    """Run the platform (web, media and scheduler in one process)."""
    from xueliang.server import serve_forever

    settings = settings_from(config)
    serve_forever(settings.model_copy(update={k: v for k, v in (("host", host), ("port", port)) if v}))


@app.command()
def demo(
    config: ConfigOpt = None, port: int = 8000, sim_port: int = 8554, data_dir: Path = Path("var")
) -> None:
    """Seed the demo county into ./var and serve it, with simulated cameras beside it."""
    from xueliang.server import run_demo

    settings = settings_from(config).model_copy(
        update={"port": port, "data_dir": data_dir, "sim_rtsp_base": f"rtsp://127.0.0.1:{sim_port}"}
    )
    run_demo(settings, sim_port=sim_port)


@app.command()
def sim(
    cameras: Annotated[int, typer.Option(min=1, max=999, help="number of simulated cameras")] = 59,
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8554,
    host: str = "127.0.0.1",
    size: Annotated[str, typer.Option(help="picture size WxH, e.g. 640x360 or 1280x720")] = "640x360",
    data_dir: Path = Path("var"),
    auth: Annotated[str, typer.Option(help="require Digest auth as USER:PASSWORD")] = "",
) -> None:
    """Serve simulated cameras over RTSP at rtsp://HOST:PORT/cam/N (loops encoded once, then replayed)."""
    from xueliang.media.sim.server import run_simulator

    try:
        width, height = (int(v) for v in size.lower().split("x", 1))
    except ValueError:
        raise fail(f"--size must look like 640x360, not {size!r}") from None
    credentials = None
    if auth:
        user, sep, secret = auth.partition(":")
        if not sep or not user:
            raise fail("--auth must look like USER:PASSWORD")
        credentials = (user, secret)
    out.print(f"simulating {cameras} cameras at rtsp://{host}:{port}/cam/1..{cameras} ({width}x{height})")
    try:
        asyncio.run(run_simulator(cameras, host, port, data_dir, size=(width, height), auth=credentials))
    except OSError as exc:
        raise fail(f"cannot serve on {host}:{port}: {exc}") from None
    except KeyboardInterrupt:
        pass


@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = None, revision: str = "head") -> None:
    """Apply schema migrations."""
    settings = settings_from(config)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        migrate.upgrade(settings.resolved_database_url(), revision)
    except (OperationalError, OSError) as exc:
        raise fail(f"database error: {exc}") from None
    out.print(f"database at revision {revision}")


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise fail("the two passwords differ")
    return first


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[Role, typer.Option(help="role of the user")],
    region: Annotated[str, typer.Option(help="civil code of the region the user belongs to")],
    name: str = "",
    password_stdin: bool = typer.Option(False, help="read the password from standard input"),
    config: ConfigOpt = None,
) -> None:
    """Create a user."""
    password = _read_password(password_stdin)

    async def job(session: AsyncSession) -> None:
        reg = await accounts.region_by_code(session, region)
        await accounts.create_user(
            session,
            cli_actor(),
            username=username,
            password=password,
            role=role,
            region=reg,
            display_name=name,
            now=SystemClock().now(),
        )
        await session.commit()

    run_db(settings_from(config), job)
    out.print(f"user {username} created ({role.value}, region {region})")


@user_app.command("passwd")
def user_passwd(username: str, password_stdin: bool = typer.Option(False), config: ConfigOpt = None) -> None:
    """Set a user's password (ends their sessions)."""
    password = _read_password(password_stdin)

    async def job(session: AsyncSession) -> None:
        user = await accounts.find_user(session, username)
        if user is None:
            raise CliError(f"no user {username!r}")
        await accounts.update_user(session, cli_actor(), user, now=SystemClock().now(), password=password)
        await session.commit()

    run_db(settings_from(config), job)
    out.print(f"password of {username} changed")


@user_app.command("disable")
def user_disable(
    username: str, enable: bool = typer.Option(False, help="enable instead"), config: ConfigOpt = None
) -> None:
    """Disable (or --enable) a user; a disabled user's sessions end at once."""

    async def job(session: AsyncSession) -> None:
        user = await accounts.find_user(session, username)
        if user is None:
            raise CliError(f"no user {username!r}")
        await accounts.update_user(session, cli_actor(), user, now=SystemClock().now(), disabled=not enable)
        await session.commit()

    run_db(settings_from(config), job)
    out.print(f"user {username} {'enabled' if enable else 'disabled'}")


@user_app.command("list")
def user_list(config: ConfigOpt = None) -> None:
    """List users."""
    rows = run_db(settings_from(config), lambda s: accounts.list_users(s, ""))
    table = Table("username", "name", "role", "region", "state")
    for user, region in rows:
        table.add_row(
            user.username,
            user.display_name,
            user.role.value,
            f"{region.code} {region.name}",
            "disabled" if user.disabled else "active",
        )
    out.print(table)


@camera_app.command("add")
def camera_add(
    gb_id: str,
    name: Annotated[str, typer.Option()],
    region: Annotated[str, typer.Option(help="village code")],
    url: Annotated[str, typer.Option(help="stream URL, e.g. rtsp://...")],
    lat: Annotated[float, typer.Option()],
    lon: Annotated[float, typer.Option()],
    kind: CameraKind = CameraKind.key_place,
    heading: float = 0.0,
    fov_angle: float = 90.0,
    fov_range: float = 50.0,
    ptz: bool = False,
    public_view: bool = False,
    config: ConfigOpt = None,
) -> None:
    """Register one camera."""

    async def job(session: AsyncSession) -> None:
        reg = await accounts.region_by_code(session, region)
        await cameras.create_camera(
            session,
            CLI_PRINCIPAL,
            cli_actor(),
            gb_id=gb_id,
            region_id=reg.id,
            now=SystemClock().now(),
            name=name,
            kind=kind,
            lat=lat,
            lon=lon,
            heading=heading,
            fov_angle=fov_angle,
            fov_range=fov_range,
            ptz=ptz,
            public_view=public_view,
            stream_url=url,
        )
        await session.commit()

    run_db(settings_from(config), job)
    out.print(f"camera {gb_id} added")


@camera_app.command("list")
def camera_list(region: str = "", config: ConfigOpt = None) -> None:
    """List cameras, optionally under one region code."""

    async def job(session: AsyncSession) -> list[Any]:
        query = cameras.CameraQuery()
        if region:
            query = cameras.CameraQuery(region_id=(await accounts.region_by_code(session, region)).id)
        return await cameras.list_cameras(session, CLI_PRINCIPAL, query)

    table = Table("id", "gb_id", "name", "village", "kind", "public", "enabled")
    for cam, reg in run_db(settings_from(config), job):
        table.add_row(
            str(cam.id),
            cam.gb_id,
            cam.name,
            reg.name,
            cam.kind.value,
            "yes" if cam.public_view else "",
            "yes" if cam.enabled else "no",
        )
    out.print(table)


@camera_app.command("import")
def camera_import(file: Path, config: ConfigOpt = None) -> None:
    """Import cameras from CSV; a bad row is reported with its line and nothing is imported."""

    async def job(session: AsyncSession) -> int:
        try:
            count = await csv_import.import_csv(
                session, CLI_PRINCIPAL, cli_actor(), file, SystemClock().now()
            )
        except csv_import.CsvImportError as exc:
            for problem in exc.errors:
                err.print(f"[red]{file}:[/] {problem}", highlight=False)
            raise CliError(f"{len(exc.errors)} bad row(s); nothing was imported") from None
        await session.commit()
        return count

    count = run_db(settings_from(config), job)
    out.print(f"{count} cameras imported")


@region_app.command("import")
def region_import(file: Path, config: ConfigOpt = None) -> None:
    """Import regions and places from a GeoJSON FeatureCollection; all or nothing."""

    async def job(session: AsyncSession) -> geojson_import.ImportResult:
        try:
            result = await geojson_import.import_features(session, geojson_import.parse(file))
        except geojson_import.ImportError_ as exc:
            for problem in exc.problems:
                err.print(f"[red]{file}:[/] {problem}", highlight=False)
            raise CliError(f"{len(exc.problems)} problem(s); nothing was imported") from None
        await audit.append(
            session,
            cli_actor(),
            "region.import",
            at=SystemClock().now(),
            detail={
                "file": file.name,
                "created": result.regions_created,
                "updated": result.regions_updated,
                "places": result.places,
            },
        )
        await session.commit()
        return result

    result = run_db(settings_from(config), job)
    out.print(
        f"regions: {result.regions_created} created, {result.regions_updated} updated; "
        f"places: {result.places}"
    )


@audit_app.command("verify")
def audit_verify(config: ConfigOpt = None) -> None:
    """Check the hash chain; report the first broken link."""
    result = run_db(settings_from(config), audit.verify)
    if not result.ok:
        raise fail(
            f"audit chain broken at row {result.broken_seq}: {result.reason} "
            f"({result.checked} rows verified before it)"
        )
    out.print(f"audit chain intact: {result.checked} rows verified")


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()


# -- recordings and exports ----------------------------------------------------------------------------

recordings_app = typer.Typer(
    help="Recordings: list the index, check it against the files, prune.", no_args_is_help=True
)
export_app = typer.Typer(help="Evidence exports.", no_args_is_help=True)
app.add_typer(recordings_app, name="recordings")
app.add_typer(export_app, name="export")


def _progress() -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err, transient=True,
    )  # fmt: skip


def _recordings_root(settings: Settings) -> Path:
    from xueliang.recordings.config import RecordingSettings

    return RecordingSettings().root(settings)


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
    from xueliang.recordings.config import RecordingSettings
    from xueliang.recordings.retention import Guard, RetentionReport, run_retention

    settings = settings_from(config)
    recording = RecordingSettings()
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

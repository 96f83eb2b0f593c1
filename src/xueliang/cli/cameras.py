"""`xueliang camera`: register, list and import cameras."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts import service as accounts
from xueliang.cameras import csv_import
from xueliang.cameras import service as cameras
from xueliang.cameras.models import CameraKind
from xueliang.cli.support import (
    CLI_PRINCIPAL,
    CliError,
    ConfigOpt,
    cli_actor,
    err,
    out,
    run_db,
    settings_from,
)
from xueliang.core.clock import SystemClock

camera_app = typer.Typer(help="Cameras.", no_args_is_help=True)


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

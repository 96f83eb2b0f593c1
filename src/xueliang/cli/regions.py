"""`xueliang region`: import regions and places."""

from __future__ import annotations

from pathlib import Path

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.audit import service as audit
from xueliang.cli.support import CliError, ConfigOpt, cli_actor, err, out, run_db, settings_from
from xueliang.core.clock import SystemClock
from xueliang.regions import geojson_import

region_app = typer.Typer(help="Regions.", no_args_is_help=True)


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

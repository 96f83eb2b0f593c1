"""`xueliang` command line: serve, demo, and admin tasks. Bad input ends with one line saying what is
wrong and a non-zero exit code, never a traceback and never half a job.

The commands that run the platform are here; each domain's admin tasks are a sub-app of their own
(`db`, `accounts`, `cameras`, `regions`, `audit`, `recordings`), composed here; `support` holds what
they share."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import OperationalError

from xueliang.cli.accounts import user_app
from xueliang.cli.audit import audit_app
from xueliang.cli.backup import backup as backup_command
from xueliang.cli.backup import downgrade as db_downgrade
from xueliang.cli.backup import restore as restore_command
from xueliang.cli.cameras import camera_app
from xueliang.cli.db import db_app
from xueliang.cli.node import node_app
from xueliang.cli.recordings import export_app, recordings_app
from xueliang.cli.regions import region_app
from xueliang.cli.support import ConfigOpt, fail, out, settings_from
from xueliang.core import migrate

app = typer.Typer(
    help="Xueliang rural safety platform.", no_args_is_help=True, pretty_exceptions_enable=False
)
for sub, name in (
    (db_app, "db"),
    (user_app, "user"),
    (camera_app, "camera"),
    (region_app, "region"),
    (audit_app, "audit"),
    (recordings_app, "recordings"),
    (export_app, "export"),
    (node_app, "node"),
):
    app.add_typer(sub, name=name)
app.command("backup")(backup_command)
app.command("restore")(restore_command)
db_app.command("downgrade")(db_downgrade)


@app.command()
def serve(
    config: ConfigOpt = None,
    host: str | None = None,
    port: int | None = None,
    role: Annotated[
        str | None,
        typer.Option(help="all (default: one process), or web | media | worker on PostgreSQL"),
    ] = None,
) -> None:
    """Run the platform (web, media and scheduler in one process, or one role of several)."""
    from xueliang.ops.roles import RoleRefused, check
    from xueliang.server import serve_forever

    settings = settings_from(config)
    if role is not None:
        settings = settings.model_copy(update={"role": role})
    try:  # SQLite is one process: a split role there is one line, exit 2
        check(settings)
    except RoleRefused as exc:
        raise fail(str(exc), code=2) from None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:  # before the server starts: a schema it cannot run on is one line, not a start-up traceback
        migrate.upgrade(settings.resolved_database_url())
    except migrate.SchemaTooNew as exc:
        raise fail(str(exc), code=2) from None
    except (OperationalError, OSError) as exc:
        raise fail(f"database error: {exc}") from None
    serve_forever(settings.model_copy(update={k: v for k, v in (("host", host), ("port", port)) if v}))


@app.command()
def demo(
    config: ConfigOpt = None,
    port: int = 8000,
    sim_port: int = 8554,
    data_dir: Path = Path("var"),
    cameras: Annotated[int, typer.Option(min=1, max=999, help="simulated cameras (the county has 59)")] = 59,
    gb_cameras: Annotated[
        int, typer.Option(min=0, max=50, help="simulated GB/T 28181 cameras registering over SIP (0: none)")
    ] = 3,
    single: Annotated[
        bool, typer.Option("--single", help="one node serving the whole county (else five joined nodes)")
    ] = False,
) -> None:
    """Seed the demo county into ./var and serve it, with simulated cameras beside it: as its five
    nodes (county, 清溪镇, 石门乡, 上坪村, 石门村 on ports PORT..PORT+4, joined), or with --single as one."""
    settings = settings_from(config).model_copy(
        update={"port": port, "data_dir": data_dir, "sim_rtsp_base": f"rtsp://127.0.0.1:{sim_port}"}
    )
    if not single:
        from xueliang.cli.demo_nodes import run_federated_demo

        run_federated_demo(settings, port=port, sim_port=sim_port, cameras=cameras)
        return
    from xueliang.server import run_demo

    run_demo(settings, sim_port=sim_port, cameras=cameras, gb_cameras=gb_cameras)


@app.command()
def sim(
    cameras: Annotated[int, typer.Option(min=1, max=999, help="number of simulated cameras")] = 59,
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8554,
    host: str = "127.0.0.1",
    size: Annotated[str, typer.Option(help="picture size WxH, e.g. 640x360 or 1280x720")] = "640x360",
    data_dir: Path = Path("var"),
    auth: Annotated[str, typer.Option(help="require Digest auth as USER:PASSWORD")] = "",
    gb28181: Annotated[
        int, typer.Option("--gb28181", min=0, max=5000, help="instead: N simulated GB/T 28181 devices")
    ] = 0,
    platform: Annotated[str, typer.Option(help="GB: the platform to register to, sip:ID@HOST:PORT")] = "",
    password: Annotated[str, typer.Option(help="GB: the devices' SIP password")] = "",
    channels: Annotated[int, typer.Option(min=1, max=64, help="GB: channels per device (>1: an NVR)")] = 1,
    civil_code: Annotated[str, typer.Option(help="GB: the 8-digit centre code of the IDs")] = "34020000",
    first: Annotated[int, typer.Option(min=1, max=999_999, help="GB: number of the first device")] = 1,
    keepalive: Annotated[float, typer.Option(min=0.05, help="GB: seconds between keepalives")] = 60.0,
    control_port: Annotated[int, typer.Option(help="GB: loopback TCP port for alarm/offline commands")] = 0,
) -> None:
    """Serve simulated cameras over RTSP at rtsp://HOST:PORT/cam/N (loops encoded once, then replayed),
    or with --gb28181 N, N simulated GB/T 28181 devices registering to --platform."""
    from xueliang.media.sim.server import run_simulator

    try:
        width, height = (int(v) for v in size.lower().split("x", 1))
    except ValueError:
        raise fail(f"--size must look like 640x360, not {size!r}") from None
    if gb28181:
        from xueliang.gb28181.sim.simulator import SimOptions, run_from_cli

        try:
            run_from_cli(
                gb28181,
                platform,
                data_dir,
                SimOptions(
                    password=password,
                    civil_code=civil_code,
                    channels=channels,
                    first=first,
                    keepalive=keepalive,
                    host=host,
                    width=width,
                    height=height,
                ),
                control_port or None,
                out.print,
            )
        except ValueError as exc:
            raise fail(str(exc)) from None
        return
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


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()

"""Running the app: `serve` for production, `demo` for the seeded county with simulated cameras."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

import uvicorn
from fastapi import FastAPI
from rich.console import Console
from rich.table import Table
from uvicorn.config import STARTUP_FAILURE

from xueliang.app import create_app
from xueliang.config import Settings
from xueliang.core import access_log, migrate
from xueliang.core.clock import SystemClock
from xueliang.core.db import Database
from xueliang.core.quiet_server import QuietServer
from xueliang.ops.logs import configure as configure_logs
from xueliang.seed.demo import DEMO_PASSWORD
from xueliang.seed.load import demo_logins, seed_demo

console = Console()
log = logging.getLogger(__name__)


def uvicorn_config(app: FastAPI, settings: Settings) -> uvicorn.Config:
    """How `serve` runs uvicorn. X-Forwarded-For and -Proto are believed only from the reverse proxies
    in `accounts.trusted_proxies` (uvicorn's own default would trust 127.0.0.1, or $FORWARDED_ALLOW_IPS),
    so the access log and the app see the real client (the login throttle counts per address)."""
    trusted = settings.accounts.trusted_proxies
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        proxy_headers=bool(trusted),
        forwarded_allow_ips=list(trusted) if trusted else "",
        ws_max_size=1 << 20,
        ws_per_message_deflate=False,  # compressing video fragments costs CPU and saves nothing
        timeout_graceful_shutdown=10,  # a connection that never ends cannot hold a stop for longer
    )
    access_log.install()  # after Config, which sets up uvicorn's loggers: no stream token in the log
    return config


def exposure_warnings(settings: Settings) -> list[str]:
    """What `serve` warns about before it listens: a session cookie that would travel in clear."""
    if _loopback(settings.host) or settings.accounts.cookie_secure:
        return []
    return [
        f"listening on {settings.host}, beyond loopback, with accounts.cookie_secure off: session cookies "
        "are sent over plain HTTP. Serve behind a TLS proxy and set XUELIANG_ACCOUNTS_COOKIE_SECURE=true "
        "(docs/operations.md)."
    ]


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve_forever(settings: Settings) -> None:
    for warning in exposure_warnings(settings):
        log.warning("%s", warning)
        console.print(f"[bold yellow]warning:[/] {warning}")
    app = create_app(settings, freeze_heap=True)
    config = uvicorn_config(app, settings)
    configure_logs(settings.ops.log_format)  # after uvicorn set up its loggers: JSON lines if asked
    server = QuietServer(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)  # as uvicorn.run does when the server could not start (port taken)


async def prepare_demo(settings: Settings, gb_devices: int | None = None) -> list[tuple[str, str, str]]:
    """Migrate and seed (once); returns the demo logins to print. With GB/T 28181 on, the demo's GB
    devices are provisioned too (`gb_devices` of them; None: the demo's default)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url()
    await migrate.upgrade_async(url)
    db = Database(url)
    try:
        async with db.session() as session:
            result = await seed_demo(session, now=SystemClock().now(), rtsp_base=settings.sim_rtsp_base)
            if settings.gb28181.enabled:  # the demo's GB cameras (xueliang demo --gb-cameras)
                from xueliang.seed.gb_demo import DEMO_GB_DEVICES, provision_demo_gb

                count = DEMO_GB_DEVICES if gb_devices is None else gb_devices
                await provision_demo_gb(session, settings.gb28181.domain, SystemClock().now(), count)
                await session.commit()
            logins = await demo_logins(session)
    finally:
        await db.dispose()
    console.print("demo county seeded" if result.created else "demo county already in place")
    return logins


def print_logins(settings: Settings, logins: list[tuple[str, str, str]]) -> None:
    table = Table(title=f"Demo logins (password for all: {DEMO_PASSWORD})")
    table.add_column("username")
    table.add_column("role")
    table.add_column("name")
    shown: dict[str, int] = {}
    for username, role, name in logins:
        shown[role] = shown.get(role, 0) + 1
        if shown[role] <= 3:
            table.add_row(username, role, name)
    console.print(table)
    base = f"http://{settings.host}:{settings.port}"
    console.print(f"console: {base}/   TV: {base}/tv   phone: {base}/m   API: {base}/api/v1/docs")


def start_simulator(settings: Settings, cameras: int, port: int) -> subprocess.Popen[bytes]:
    """The simulator runs beside the platform in its own process, as a real camera farm would."""
    cmd = [
        sys.executable,
        "-m",
        "xueliang",
        "sim",
        "--cameras",
        str(cameras),
        "--port",
        str(port),
        "--data-dir",
        str(settings.data_dir),
    ]
    return subprocess.Popen(cmd)  # noqa: S603 - our own interpreter and module, numeric arguments


def _exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def wait_for_simulator(sim: subprocess.Popen[bytes], port: int, timeout: float = 300.0) -> None:
    """Until the simulator listens (its first run encodes the loops), so the engine's first pulls
    find it and a newcomer's first screen is not a wall of "Connection refused"."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sim.poll() is not None:
            raise SystemExit(f"the camera simulator stopped (exit code {sim.returncode})")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    console.print(f"[bold yellow]warning:[/] the simulator does not answer on port {port}; starting anyway")


def run_demo(settings: Settings, sim_port: int, cameras: int = 59, gb_cameras: int = 0) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    sim = start_simulator(settings, cameras, sim_port)  # first: it encodes its loops while we seed
    sims = [sim]
    # uvicorn stops gracefully on SIGTERM, then raises it again under the handler that was there
    # before: with the default one the process would die before `finally` stops the simulator.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        if gb_cameras:
            from xueliang.seed.gb_demo import demo_gb_settings, start_gb_demo

            settings = demo_gb_settings(settings)
            sims.append(start_gb_demo(settings, gb_cameras))  # registers once the node listens
        logins = asyncio.run(prepare_demo(settings))
        wait_for_simulator(sim, sim_port)
        print_logins(settings, logins)
        serve_forever(settings)
    finally:
        for process in sims:
            process.terminate()
        for process in sims:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

"""What the sub-apps of the command line share: the consoles, the `--config` option, ending a command
with one line, the settings, the console operator as actor and principal, and one database job."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.models import Role
from xueliang.accounts.policy import Principal
from xueliang.audit.service import Actor
from xueliang.config import ConfigError, Settings, load_settings
from xueliang.core import migrate
from xueliang.core.db import Database
from xueliang.core.errors import AppError

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
    """The node's settings; a file or value that cannot be used is one line and exit code 2."""
    try:
        return load_settings(config)
    except ConfigError as exc:
        raise fail(str(exc), code=2) from None


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

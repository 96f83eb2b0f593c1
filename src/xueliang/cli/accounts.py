"""`xueliang user`: user accounts."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts import service as accounts
from xueliang.accounts.models import Role
from xueliang.cli.support import CliError, ConfigOpt, cli_actor, fail, out, run_db, settings_from
from xueliang.core.clock import SystemClock

user_app = typer.Typer(help="User accounts.", no_args_is_help=True)


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

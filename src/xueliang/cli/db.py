"""`xueliang db`: the database schema."""

from __future__ import annotations

import typer
from sqlalchemy.exc import OperationalError

from xueliang.cli.support import ConfigOpt, fail, out, settings_from
from xueliang.core import migrate

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = None, revision: str = "heads") -> None:
    """Apply schema migrations."""
    settings = settings_from(config)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        migrate.upgrade(settings.resolved_database_url(), revision)
    except (OperationalError, OSError) as exc:
        raise fail(f"database error: {exc}") from None
    except migrate.SchemaTooNew as exc:
        raise fail(str(exc), code=2) from None
    out.print(f"database at revision {revision}")

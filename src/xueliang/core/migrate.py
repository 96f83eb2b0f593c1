"""Schema migrations through Alembic, configured in code so no alembic.ini has to be found on disk."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer Xueliang: this version does not know its revision."""


def upgrade(url: str, revision: str = "heads") -> None:
    """Brings the schema up to `revision`; a database from a newer version is refused with a line that
    says what to do, rather than Alembic's "Can't locate revision"."""
    try:
        command.upgrade(alembic_config(url), revision)
    except CommandError as exc:
        if "locate revision" not in str(exc):
            raise
        raise SchemaTooNew(
            f"the database was migrated by a newer version of Xueliang ({exc}); run that version, or "
            "restore a backup made by this one (xueliang restore)"
        ) from None


async def upgrade_async(url: str, revision: str = "heads") -> None:
    """env.py runs its own event loop, so from async code it goes to a worker thread."""
    await asyncio.to_thread(upgrade, url, revision)

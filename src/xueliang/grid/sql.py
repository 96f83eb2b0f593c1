"""Insert-or-ignore on a unique key, on both backends: how daily generation stays exactly-once under
restarts, missed midnights and two processes at once (the database settles who inserted first)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.core.db import Base


async def insert_ignore(
    session: AsyncSession, model: type[Base], rows: list[dict[str, Any]], keys: list[str]
) -> None:
    """INSERT ... ON CONFLICT (keys) DO NOTHING for many rows in one statement."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        await session.execute(pg_insert(model).on_conflict_do_nothing(index_elements=keys), rows)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        await session.execute(sqlite_insert(model).on_conflict_do_nothing(index_elements=keys), rows)

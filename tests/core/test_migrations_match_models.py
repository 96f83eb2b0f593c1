"""The migrations build exactly the schema the models declare, so a new domain cannot forget its
migration (or a column of it) and only find out on a real node."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from tests.support.db import run_async

import xueliang.models as models
from xueliang.core import migrate
from xueliang.core.db import Database


def test_upgraded_schema_has_no_difference_from_the_models(make_db_url: Callable[[], str]) -> None:
    url = make_db_url()
    migrate.upgrade(url)

    def diff(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return list(compare_metadata(context, models.Base.metadata))

    async def go() -> list[Any]:
        db = Database(url)
        try:
            async with db.engine.connect() as connection:
                return await connection.run_sync(diff)
        finally:
            await db.dispose()

    assert run_async(go()) == []

"""Upgrades: a database made by the first migration, with data in it, migrates forward to today's
schema and the node works on it (its user logs in, its audit chain verifies); until then /readyz says
the schema is behind. A downgrade is refused with a line saying why and what to do instead."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from tests.support.app import make_settings
from xueliang.accounts.passwords import hash_password
from xueliang.app import create_app
from xueliang.audit import service as audit
from xueliang.cli import app as cli_app
from xueliang.core import migrate
from xueliang.core.db import Database
from xueliang.ops.metrics import NodeMetrics, readiness

PASSWORD = "old-schema-pass-1234"


async def fill_first_schema(url: str) -> None:
    """Rows as the first release wrote them: plain SQL on its columns, and a start of the audit chain."""
    now = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    db = Database(url)
    try:
        async with db.session() as s:
            await s.execute(
                text(
                    "INSERT INTO regions (id, code, name, name_en, level, parent_id, path, households,"
                    " population) VALUES (1, '513299', '旧县', 'Old County', 'county', NULL, '/1/', 0, 0)"
                )
            )
            await s.execute(
                text(
                    "INSERT INTO users (id, username, display_name, password_hash, role, region_id, phone,"
                    " locale, disabled, created_at, password_changed_at)"
                    " VALUES (1, 'old-admin', '旧管理员', :h, 'admin', 1, '', 'zh_CN', false, :t, :t)"
                ),
                {"h": hash_password(PASSWORD), "t": now},
            )
            await audit.append(s, audit.Actor(1, "old-admin", "127.0.0.1"), "user.create", at=now)
            await s.commit()
    finally:
        await db.dispose()


async def test_first_schema_with_data_migrates_forward(
    make_db_url: Callable[[], str], tmp_path: Path
) -> None:
    url = make_db_url()
    await migrate.upgrade_async(url, "0001")
    await fill_first_schema(url)
    settings = make_settings(url, tmp_path)

    behind = create_app(settings, migrate_on_start=False)  # it could not start here: only ask /readyz's check
    ctx = behind.state.ctx
    ok, body = await readiness(ctx, ctx.services.require(NodeMetrics).heads)
    await ctx.db.dispose()
    assert not ok and "xueliang db upgrade" in body["message"] and "0001" in body["message"]

    upgraded = create_app(settings)  # migrates to today's heads on start, as `serve` does
    async with upgraded.router.lifespan_context(upgraded):
        transport = httpx.ASGITransport(app=upgraded, client=("127.0.0.1", 50201))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            assert (await c.get("/readyz")).status_code == 200
            login = await c.post("/api/v1/auth/login", json={"username": "old-admin", "password": PASSWORD})
            assert login.status_code == 200, login.text
        async with upgraded.state.ctx.db.session() as s:
            assert await s.scalar(text("SELECT name FROM regions WHERE code = '513299'")) == "旧县"
            result = await audit.verify(s)
            assert result.ok and result.checked >= 2, result  # the old row and the login's


def test_downgrade_is_refused() -> None:
    result = CliRunner().invoke(cli_app, ["db", "downgrade", "0001"])
    assert result.exit_code == 2
    assert "refused" in result.output and "xueliang restore" in " ".join(result.output.split())


def test_a_database_from_a_newer_version_is_refused_with_one_line(
    make_db_url: Callable[[], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node downgraded by mistake (an older package on a database a newer one migrated) does not start:
    `db upgrade` and `serve` say so in one line with exit code 2, instead of Alembic's traceback."""
    url = make_db_url()
    migrate.upgrade(url)

    async def from_the_future() -> None:
        db = Database(url)
        try:
            async with db.session() as s:
                await s.execute(text("UPDATE alembic_version SET version_num = '0999'"))
                await s.commit()
        finally:
            await db.dispose()

    asyncio.run(from_the_future())
    with pytest.raises(migrate.SchemaTooNew, match="newer version"):
        migrate.upgrade(url)
    monkeypatch.setenv("XUELIANG_DATABASE_URL", url)
    monkeypatch.setenv("XUELIANG_DATA_DIR", str(tmp_path))
    for command in (["db", "upgrade"], ["serve", "--port", "1"]):
        result = CliRunner().invoke(cli_app, command)
        assert result.exit_code == 2, (command, result.output)
        assert "newer version of Xueliang" in " ".join(result.output.split()), result.output
        assert "Traceback" not in result.output

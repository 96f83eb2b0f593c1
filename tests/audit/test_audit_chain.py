"""The audit trail is append-only and hash-chained: tampering with any row is found."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from tests.support.db import BACKEND

from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.core import migrate
from xueliang.core.db import Database

DROP_TRIGGERS = {
    "sqlite": ["DROP TRIGGER audit_no_update", "DROP TRIGGER audit_no_delete"],
    "postgresql": ["DROP TRIGGER audit_no_change ON audit_events"],
}


@pytest.fixture
def empty_url(make_db_url: Callable[[], str]) -> str:
    return make_db_url()


@pytest.fixture
async def db(empty_url: str) -> Database:
    url = empty_url
    await migrate.upgrade_async(url)
    database = Database(url)
    async with database.session() as s:
        for i in range(1, 11):
            await audit.append(
                s,
                Actor(i, f"user{i}", "127.0.0.1"),
                "camera.open",
                at=datetime(2026, 5, 1, 8, i, 3, 123456, tzinfo=UTC),
                target_type="camera",
                target_id=i,
                detail={"gb_id": f"{i:020d}", "note": "村口"},
            )
        await s.commit()
    return database


async def test_intact_chain_verifies(db: Database) -> None:
    async with db.session() as s:
        result = await audit.verify(s)
    assert result.ok and result.checked == 10
    await db.dispose()


async def test_database_refuses_updates_and_deletes(db: Database) -> None:
    async with db.session() as s:
        with pytest.raises(DBAPIError, match="append-only"):
            await s.execute(text("UPDATE audit_events SET actor = 'x' WHERE seq = 3"))
    async with db.session() as s:
        with pytest.raises(DBAPIError, match="append-only"):
            await s.execute(text("DELETE FROM audit_events WHERE seq = 3"))
    await db.dispose()


@pytest.mark.parametrize(
    "tamper, broken, reason",
    [
        ("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 4", 4, "altered"),
        ('UPDATE audit_events SET detail = \'{"gb_id": "x"}\' WHERE seq = 7', 7, "altered"),
        ("DELETE FROM audit_events WHERE seq = 5", 5, "missing"),
    ],
)
async def test_tampering_is_found_at_the_first_broken_row(
    db: Database, tamper: str, broken: int, reason: str
) -> None:
    async with db.session() as s:
        for statement in DROP_TRIGGERS[BACKEND]:  # an attacker with database access can do this too
            await s.execute(text(statement))
        await s.execute(text(tamper))
        await s.commit()
    async with db.session() as s:
        result = await audit.verify(s)
    assert not result.ok
    assert result.broken_seq == broken and reason in result.reason
    assert result.checked == broken - 1
    await db.dispose()


async def test_rehashing_a_row_breaks_the_next_link(db: Database) -> None:
    """A forger who recomputes the altered row's own hash still breaks the link from the next row."""
    async with db.session() as s:
        for statement in DROP_TRIGGERS[BACKEND]:
            await s.execute(text(statement))
        row = (
            await s.execute(
                text(
                    "SELECT seq, at, actor_id, action, target_type, target_id, address, prev_hash "
                    "FROM audit_events WHERE seq = 6"
                )
            )
        ).one()
        at = row.at if isinstance(row.at, datetime) else datetime.fromisoformat(str(row.at))
        forged = audit.row_digest(
            seq=6,
            at=at.replace(tzinfo=UTC),
            actor_id=row.actor_id,
            actor="forged",
            action=row.action,
            target_type=row.target_type,
            target_id=row.target_id,
            address=row.address,
            detail={"gb_id": f"{6:020d}", "note": "村口"},
            prev_hash=row.prev_hash,
        )
        await s.execute(
            text("UPDATE audit_events SET actor = 'forged', hash = :h WHERE seq = 6"), {"h": forged}
        )
        await s.commit()
    async with db.session() as s:
        result = await audit.verify(s)
    assert not result.ok and result.broken_seq == 7 and "link" in result.reason
    await db.dispose()

"""Database engine, sessions and the declarative base shared by every domain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.types import TypeDecorator

from xueliang.core import sqlite
from xueliang.core.clock import as_utc

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way out, whatever the backend stored."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        sqlite_url = make_url(url).set(drivername=sqlite.DRIVER)
        engine = create_async_engine(sqlite_url, connect_args={"isolation_level": None})
        dialect = engine.dialect
        assert isinstance(dialect, sqlite.GatedSQLiteDialect)
        event.listen(engine.sync_engine, "begin", dialect.begin)  # connection set-up: dialect.on_connect
        return engine
    return create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def read_only(engine: AsyncEngine) -> AsyncEngine:
    """The same pool, for transactions that only read: they never wait for a writer (SQLite:
    deferred snapshot; PostgreSQL: READ ONLY), and a write in one is refused by the database."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(**{sqlite.READ_ONLY: True})
    return engine.execution_options(postgresql_readonly=True)


def database_key(session: AsyncSession | Session) -> str:
    """Which database a session is on, for in-process caches shared by apps on different databases."""
    return str(session.get_bind().engine.url)


class Database:
    """Owns the engine and hands out sessions; one per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = async_sessionmaker(read_only(self.engine), expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            yield session

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """For work that only reads (who is calling, what to push): it never queues behind writers."""
        async with self.read_sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()

"""Bounds for values that reach the database. An id beyond the 64-bit integer range, or a date that a
backend cannot store or compare, must be a 422 with the documented JSON body, never a driver error
and a 500 (issue 14: 40 routes answered 500 to an id of 2**63, some before any login).

Use `PathId`/`QueryId` for route parameters, `DbId` and `StoredDatetime` in request schemas, and
`MAX_INT64` as the bound of offsets and counts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, Field

MAX_ID = 2**31 - 1  # ids are INTEGER columns: 32 bits on PostgreSQL (audit ids, 64-bit, never reach it)
MAX_INT64 = 2**63 - 1  # counts and byte offsets: PostgreSQL bigint, SQLite INTEGER
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _stored(value: datetime) -> datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if not EARLIEST <= aware < LATEST:
        raise ValueError(f"must lie between {EARLIEST.year} and {LATEST.year}")
    return value


PathId = Annotated[int, Path(ge=1, le=MAX_ID)]
QueryId = Annotated[int, Query(ge=1, le=MAX_ID)]
DbId = Annotated[int, Field(ge=1, le=MAX_ID)]
StoredDatetime = Annotated[datetime, AfterValidator(_stored)]

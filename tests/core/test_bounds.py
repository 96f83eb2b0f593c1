"""Ids and dates are bounded where they enter, so the database never sees what it cannot store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ValidationError

from xueliang.core.bounds import MAX_ID, DbId, StoredDatetime


class Body(BaseModel):
    id: DbId
    at: StoredDatetime


def test_ids_and_dates_in_range_pass() -> None:
    assert MAX_ID == 2**31 - 1  # what a PostgreSQL INTEGER id column holds
    body = Body(id=MAX_ID, at=datetime(2026, 12, 6, tzinfo=UTC))
    assert body.id == MAX_ID and body.at.year == 2026


@pytest.mark.parametrize(
    ("value", "at"),
    [(MAX_ID + 1, "2026-01-01T00:00:00Z"), (2**63, "2026-01-01T00:00:00Z"), (0, "2026-01-01T00:00:00Z"),
     (1, "0001-01-01T00:00:00Z"), (1, "9999-12-31T23:59:59Z")],
)  # fmt: skip
def test_out_of_range_is_a_validation_error(value: int, at: str) -> None:
    with pytest.raises(ValidationError):
        Body.model_validate({"id": value, "at": at})

"""A camera's mask rows as they travel between nodes (cameras/masks.py): every column but this node's
own keys, dates as text; a column the receiver lacks is dropped, a bad polygon refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from xueliang.cameras.mask_models import CameraMask
from xueliang.cameras.mask_rows import mask_rows_in, mask_rows_out
from xueliang.core.errors import ValidationFailed

AT = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def test_mask_rows_round_trip_column_by_column() -> None:
    row = CameraMask(id=7, camera_id=3, label="院子", points=[[0.1, 0.1], [0.9, 0.1], [0.5, 0.8]],
                     created_by="op-shangping", created_at=AT)  # fmt: skip
    (out,) = mask_rows_out([row])
    assert "id" not in out and "camera_id" not in out
    assert out["created_at"] == AT.isoformat() and out["created_by"] == "op-shangping"
    (back,) = mask_rows_in(41, [{**out, "schedule": "night"}], datetime(2027, 1, 1, tzinfo=UTC))
    assert back.camera_id == 41 and back.created_at == AT  # the owner's facts, not the receiver's
    assert mask_rows_out([back]) == [out]  # a newer sender's column ("schedule") is dropped here


def test_a_bad_polygon_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        mask_rows_in(1, [{"label": "x", "points": [[0.1, 0.1], [0.2, 0.2]]}], AT)
    with pytest.raises(ValidationFailed):
        mask_rows_in(1, [{"label": "x", "points": [[0.1, 0.1], [2.0, 0.2], [0.3, 0.9]]}], AT)

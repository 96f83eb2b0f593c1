"""preset masks: a PTZ camera's mask set per preset, and where our PTZ commands left it

`camera_masks.preset` names the set a polygon belongs to (0: the camera's default set).
`camera_mask_sets` says when each preset's set was drawn and when the preset itself was last saved on
the camera (a set drawn before its preset was saved again covers the old view: not in force).
`camera_ptz_positions` records every position change our PTZ commands caused, with its time (preset
NULL: moved by hand or still on its way), so playback masks each frame with the set then in force.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xueliang.core.db

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("camera_masks") as batch:
        batch.add_column(sa.Column("preset", sa.SmallInteger(), nullable=False, server_default="0"))
    op.create_index("ix_camera_masks_camera_preset", "camera_masks", ["camera_id", "preset"])
    op.create_table(
        "camera_mask_sets",
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("preset", sa.SmallInteger(), nullable=False),
        sa.Column("drawn_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("drawn_by", sa.String(length=64), nullable=False, server_default=""),
        sa.Column("preset_saved_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("camera_id", "preset"),
    )
    op.create_table(
        "camera_ptz_positions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("preset", sa.SmallInteger(), nullable=True),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False, server_default=""),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_camera_ptz_positions_camera_at", "camera_ptz_positions", ["camera_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_camera_ptz_positions_camera_at", table_name="camera_ptz_positions")
    op.drop_table("camera_ptz_positions")
    op.drop_table("camera_mask_sets")
    op.drop_index("ix_camera_masks_camera_preset", table_name="camera_masks")
    with op.batch_alter_table("camera_masks") as batch:
        batch.drop_column("preset")

"""recordings: segment index, explicit gaps, evidence locks, exports

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 12:02:52.504900
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xueliang.core.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recording_exports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("created_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "state",
            sa.Enum("running", "ready", "failed", name="exportstate", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("directory", sa.String(length=255), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["cameras.id"],
            name=op.f("fk_recording_exports_camera_id_cameras"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_recording_exports_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_exports")),
    )
    with op.batch_alter_table("recording_exports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recording_exports_camera_id"), ["camera_id"], unique=False)

    op.create_table(
        "recording_gaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["cameras.id"],
            name=op.f("fk_recording_gaps_camera_id_cameras"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_gaps")),
    )
    with op.batch_alter_table("recording_gaps", schema=None) as batch_op:
        batch_op.create_index("ix_recording_gaps_camera_start", ["camera_id", "starts_at"], unique=False)

    op.create_table(
        "recording_locks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("released_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["cameras.id"],
            name=op.f("fk_recording_locks_camera_id_cameras"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_locks")),
    )
    with op.batch_alter_table("recording_locks", schema=None) as batch_op:
        batch_op.create_index("ix_recording_locks_camera", ["camera_id", "released_at"], unique=False)

    op.create_table(
        "recording_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column(
            "state",
            sa.Enum("open", "closed", name="segmentstate", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("init_size", sa.Integer(), nullable=False),
        sa.Column("media_start", sa.BigInteger(), nullable=False),
        sa.Column("media_end", sa.BigInteger(), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("keyframes", sa.JSON(), nullable=False),
        sa.Column("codec", sa.String(length=64), nullable=False),
        sa.Column("repaired", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["cameras.id"],
            name=op.f("fk_recording_segments_camera_id_cameras"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_segments")),
    )
    with op.batch_alter_table("recording_segments", schema=None) as batch_op:
        batch_op.create_index("ix_recording_segments_camera_start", ["camera_id", "starts_at"], unique=False)
        batch_op.create_index("ix_recording_segments_start", ["starts_at"], unique=False)
        batch_op.create_index("ix_recording_segments_state", ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("recording_segments", schema=None) as batch_op:
        batch_op.drop_index("ix_recording_segments_state")
        batch_op.drop_index("ix_recording_segments_start")
        batch_op.drop_index("ix_recording_segments_camera_start")

    op.drop_table("recording_segments")
    with op.batch_alter_table("recording_locks", schema=None) as batch_op:
        batch_op.drop_index("ix_recording_locks_camera")

    op.drop_table("recording_locks")
    with op.batch_alter_table("recording_gaps", schema=None) as batch_op:
        batch_op.drop_index("ix_recording_gaps_camera_start")

    op.drop_table("recording_gaps")
    with op.batch_alter_table("recording_exports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recording_exports_camera_id"))

    op.drop_table("recording_exports")

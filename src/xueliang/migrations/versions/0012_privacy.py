"""privacy: camera masks, the privacy page's facts, four-eyes approvals, masked exports

Revision ID: 0012
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xueliang.core.db

revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "camera_masks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("points", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_camera_masks_camera_id", "camera_masks", ["camera_id"])
    op.create_table(
        "camera_privacy",
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("sensitive", sa.Boolean(), nullable=False),
        sa.Column("watches", sa.String(length=300), nullable=False),
        sa.Column("purpose", sa.String(length=300), nullable=False),
        sa.Column("controller", sa.String(length=200), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=False),
        sa.Column("updated_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("camera_id"),
    )
    op.create_table(
        "privacy_approvals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column(
            "action",
            sa.Enum("playback", "export", name="approvalaction", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("starts_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("requester_name", sa.String(length=64), nullable=False),
        sa.Column("created_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "state",
            sa.Enum("pending", "approved", "denied", name="approvalstate", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decider_name", sa.String(length=64), nullable=False),
        sa.Column("decided_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=False),
        sa.Column("expires_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["requester_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_privacy_approvals_camera_id", "privacy_approvals", ["camera_id"])
    op.create_index("ix_privacy_approvals_requester_id", "privacy_approvals", ["requester_id"])
    op.add_column(
        "recording_exports", sa.Column("masked", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    with op.batch_alter_table("recording_exports") as batch:
        batch.drop_column("masked")
    op.drop_index("ix_privacy_approvals_requester_id", table_name="privacy_approvals")
    op.drop_index("ix_privacy_approvals_camera_id", table_name="privacy_approvals")
    op.drop_table("privacy_approvals")
    op.drop_table("camera_privacy")
    op.drop_index("ix_camera_masks_camera_id", table_name="camera_masks")
    op.drop_table("camera_masks")

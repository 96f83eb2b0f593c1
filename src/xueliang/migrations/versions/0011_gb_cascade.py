"""gb28181 cascade: upper platforms, the cameras shared with each, the alarm outbox

Revision ID: 0011
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xueliang.core.db

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gb_uppers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("sip_id", sa.String(length=20), nullable=False),
        sa.Column("domain", sa.String(length=10), nullable=False),
        sa.Column("host", sa.String(length=64), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("transport", sa.String(length=8), nullable=False),
        sa.Column("password", sa.String(length=128), nullable=False),
        sa.Column("local_id", sa.String(length=20), nullable=False),
        sa.Column("register_expires", sa.Integer(), nullable=False),
        sa.Column("keepalive_period", sa.Integer(), nullable=False),
        sa.Column("charset", sa.String(length=16), nullable=False),
        sa.Column("catalog_page", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("registered_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_keepalive", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=False),
        sa.Column("last_error_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("catalog_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sip_id"),
    )
    op.create_table(
        "gb_upper_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("upper_id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=20), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("created_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["upper_id"], ["gb_uppers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("camera_id", "upper_id"),
        sa.UniqueConstraint("channel_id", "upper_id"),
    )
    op.create_index("ix_gb_upper_channels_upper_id", "gb_upper_channels", ["upper_id"])
    op.create_index("ix_gb_upper_channels_camera_id", "gb_upper_channels", ["camera_id"])
    op.create_table(
        "gb_upper_alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("upper_id", sa.Integer(), nullable=False),
        sa.Column("alarm_id", sa.Integer(), nullable=False),
        sa.Column("created_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["upper_id"], ["gb_uppers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["alarm_id"], ["alarms.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("upper_id", "alarm_id"),
    )
    op.create_index("ix_gb_upper_alarms_upper_id", "gb_upper_alarms", ["upper_id"])
    op.create_index("ix_gb_upper_alarms_alarm_id", "gb_upper_alarms", ["alarm_id"])
    op.create_index("ix_gb_upper_alarms_sent_at", "gb_upper_alarms", ["sent_at"])


def downgrade() -> None:
    op.drop_table("gb_upper_alarms")
    op.drop_table("gb_upper_channels")
    op.drop_table("gb_uppers")

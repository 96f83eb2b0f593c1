"""gb28181: registered devices and their channels (linked to cameras)

Revision ID: 0007
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xueliang.core.db

revision = "0007"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gb_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("ha1", sa.String(length=32), nullable=True),
        sa.Column("ha1_realm", sa.String(length=10), nullable=False),
        sa.Column("transport", sa.String(length=8), nullable=False),
        sa.Column("contact_host", sa.String(length=64), nullable=False),
        sa.Column("contact_port", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("registered_until", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_keepalive", xueliang.core.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("manufacturer", sa.String(length=100), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("firmware", sa.String(length=100), nullable=False),
        sa.Column("charset", sa.String(length=16), nullable=False),
        sa.Column("created_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["region_id"], ["regions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("device_id"),
    )
    op.create_index("ix_gb_devices_region_id", "gb_devices", ["region_id"])
    op.create_index("ix_gb_devices_online", "gb_devices", ["online"])
    op.create_table(
        "gb_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_pk", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("ptz_type", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("camera_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["device_pk"], ["gb_devices.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("device_pk", "channel_id"),
        sa.UniqueConstraint("camera_id"),
    )
    op.create_index("ix_gb_channels_device_pk", "gb_channels", ["device_pk"])


def downgrade() -> None:
    op.drop_index("ix_gb_channels_device_pk", table_name="gb_channels")
    op.drop_table("gb_channels")
    op.drop_index("ix_gb_devices_online", table_name="gb_devices")
    op.drop_index("ix_gb_devices_region_id", table_name="gb_devices")
    op.drop_table("gb_devices")

"""federation: relayed cameras' reported status, portal content kept as copies of a parent's

A parent keeps the last status a child reported for each camera it hosts (an idle relayed camera shows
it, not "starting"); a child keeps which of its portal rows are copies of content published above
(edits there are refused: the owner edits them); the content tables get an index on their change
time for the sweep that sends them down. Relayed cameras already known get a whole-picture
mask until their owner says its masks (fail closed: a parent had no masks of a child's cameras).

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xueliang.core.db
from xueliang.core.clock import SystemClock

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

UNKNOWN = "待所属节点告知遮挡区域 / masks not yet known from the owner node"


def upgrade() -> None:
    op.create_table(
        "federation_camera_status",
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("reported_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("camera_id"),
    )
    op.create_table(
        "portal_upstream",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("local_id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=20), nullable=False),
        sa.Column("remote_id", sa.Integer(), nullable=False),
        sa.Column("received_at", xueliang.core.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "local_id", name="uq_portal_upstream_local"),
        sa.UniqueConstraint("kind", "owner", "remote_id", name="uq_portal_upstream_remote"),
    )
    # The content sweep (federation/content.py) reads each kind by its change time.
    op.create_index("ix_portal_departments_updated_at", "portal_departments", ["updated_at"])
    op.create_index("ix_portal_services_updated_at", "portal_services", ["updated_at"])
    op.create_index("ix_portal_jobs_updated_at", "portal_jobs", ["updated_at"])
    op.create_index("ix_portal_prices_published_at", "portal_prices", ["published_at"])
    cameras = sa.table("cameras", sa.column("id", sa.Integer()), sa.column("host_node_id", sa.Integer()))
    masks = sa.table(
        "camera_masks",
        sa.column("camera_id", sa.Integer()),
        sa.column("label", sa.String()),
        sa.column("points", sa.JSON()),
        sa.column("created_by", sa.String()),
        sa.column("created_at", xueliang.core.db.UtcDateTime(timezone=True)),
    )
    bind = op.get_bind()
    have = {row[0] for row in bind.execute(sa.select(masks.c.camera_id).distinct())}
    below = sa.select(cameras.c.id).where(cameras.c.host_node_id.is_not(None))
    relayed = [row[0] for row in bind.execute(below)]
    now = SystemClock().now()
    rows = [
        {
            "camera_id": camera_id,
            "label": UNKNOWN,
            "points": [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]],
            "created_by": "migration 0017",
            "created_at": now,
        }
        for camera_id in relayed
        if camera_id not in have
    ]
    if rows:
        op.bulk_insert(masks, rows)


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM camera_masks WHERE created_by = 'migration 0017'"))
    for index, table in (
        ("ix_portal_prices_published_at", "portal_prices"),
        ("ix_portal_jobs_updated_at", "portal_jobs"),
        ("ix_portal_services_updated_at", "portal_services"),
        ("ix_portal_departments_updated_at", "portal_departments"),
    ):
        op.drop_index(index, table_name=table)
    op.drop_table("portal_upstream")
    op.drop_table("federation_camera_status")

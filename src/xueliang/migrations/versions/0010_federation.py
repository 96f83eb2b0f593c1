"""federation: node keys and link times, where a camera is hosted, enrollment codes, the link's
outbox and inbox, and audit anchors (issue 18)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import xueliang.core.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, xueliang.core.db.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("base_url", sa.String(length=300), nullable=True))
        batch_op.add_column(_when("enrolled_at"))
        batch_op.add_column(_when("revoked_at"))
        batch_op.add_column(_when("last_seen_at"))
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.add_column(sa.Column("host_node_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("remote_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_cameras_host_node_id_nodes"), "nodes", ["host_node_id"], ["id"]
        )
    op.create_table(
        "federation_invites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=True),
        _when("created_at", False),
        _when("expires_at", False),
        _when("used_at"),
        sa.Column("used_by", sa.String(length=20), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_invites")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_federation_invites_code_hash")),
    )
    op.create_table(
        "federation_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        _when("created_at", False),
        _when("sent_at"),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["peer_id"], ["nodes.id"], name=op.f("fk_federation_outbox_peer_id_nodes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_outbox")),
        sa.UniqueConstraint("source", "source_id", "peer_id", name=op.f("uq_federation_outbox_source")),
    )
    op.create_index(op.f("ix_federation_outbox_peer_id"), "federation_outbox", ["peer_id"])
    op.create_index(op.f("ix_federation_outbox_sent_at"), "federation_outbox", ["sent_at"])
    op.create_table(
        "federation_inbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("msg_id", sa.String(length=80), nullable=False),
        sa.Column("peer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        _when("applied_at", False),
        sa.Column("outcome", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["peer_id"], ["nodes.id"], name=op.f("fk_federation_inbox_peer_id_nodes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_inbox")),
        sa.UniqueConstraint("msg_id", name=op.f("uq_federation_inbox_msg_id")),
    )
    op.create_index(op.f("ix_federation_inbox_peer_id"), "federation_inbox", ["peer_id"])
    op.create_table(
        "federation_audit_anchors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        _when("anchored_at", False),
        _when("received_at", False),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_federation_audit_anchors_node_id_nodes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_audit_anchors")),
    )
    op.create_index(op.f("ix_federation_audit_anchors_node_id"), "federation_audit_anchors", ["node_id"])


def downgrade() -> None:
    op.drop_table("federation_audit_anchors")
    op.drop_table("federation_inbox")
    op.drop_table("federation_outbox")
    op.drop_table("federation_invites")
    with op.batch_alter_table("cameras", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_cameras_host_node_id_nodes"), type_="foreignkey")
        batch_op.drop_column("remote_id")
        batch_op.drop_column("host_node_id")
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        for name in ("last_seen_at", "revoked_at", "enrolled_at", "base_url", "public_key"):
            batch_op.drop_column(name)

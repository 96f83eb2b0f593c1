"""merge: the branches built side by side in the second December session join again

Federation (0010), the GB/T 28181 cascade (0011), privacy masks and four-eyes approvals (0012), camera
leases for the media role (0013) and the per-camera audio switch (0014) each branched from 0009 (see
docs/adr/0007-migration-branches-per-domain.md). This empty revision joins them, so a database has one
head again and the next migration starts from here.

Revision ID: 0015
Revises: 0010, 0011, 0012, 0013, 0014
"""

from __future__ import annotations

revision = "0015"
down_revision = ("0010", "0011", "0012", "0013", "0014")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

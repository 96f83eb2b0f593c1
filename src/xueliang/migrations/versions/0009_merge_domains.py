"""merge: the domain branches of December 2026 (grid, portal, hospital, gb28181, mfa) join again

The four feature domains and the second factors were built side by side, each with its migration
branching from 0003 (see docs/adr/0007-migration-branches-per-domain.md). This empty revision joins
them, so a database has one head again and the next migration starts from here.

Revision ID: 0009
Revises: 0004, 0005, 0006, 0007, 0008
"""

from __future__ import annotations

revision = "0009"
down_revision = ("0004", "0005", "0006", "0007", "0008")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

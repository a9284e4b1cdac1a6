"""staff points adjustments under maker-checker, and each partner's approval threshold

Revision ID: c5f7a9b1d3e4
Revises: b4e6f8a0c2d3
Create Date: 2026-12-03 06:00:00

A staff member's grant or deduction above the partner's threshold (default 10,000 points)
waits for a second staff member's approval before any points move.
"""

import sqlalchemy as sa
from alembic import op

from app.core.db import UTCDateTime

WHEN = UTCDateTime(timezone=True)

revision = "c5f7a9b1d3e4"
down_revision = "b4e6f8a0c2d3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.add_column(
            sa.Column(
                "adjustment_approval_points", sa.Integer(), nullable=False, server_default="10000"
            )
        )
    op.create_table(
        "points_adjustments",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("partner_id", sa.String(40), sa.ForeignKey("partners.id"), nullable=False),
        sa.Column("member_id", sa.String(40), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(80), nullable=False),
        sa.Column("decided_by", sa.String(80), nullable=True),
        sa.Column("decided_at", WHEN, nullable=True),
        sa.Column("entry_id", sa.String(40), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("ix_points_adjustments_partner_id", "points_adjustments", ["partner_id"])
    op.create_index("ix_points_adjustments_member_id", "points_adjustments", ["member_id"])


def downgrade() -> None:
    op.drop_table("points_adjustments")
    with op.batch_alter_table("partners") as batch:
        batch.drop_column("adjustment_approval_points")

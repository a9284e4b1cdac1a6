"""after-sales cases: a problem with a delivered unit, its due times and its resolution

Revision ID: e7b9c1d3f5a6
Revises: d6a8b0c2e4f5
Create Date: 2026-12-03 08:00:00
"""

import sqlalchemy as sa
from alembic import op

from app.core.db import UTCDateTime

WHEN = UTCDateTime(timezone=True)

revision = "e7b9c1d3f5a6"
down_revision = "d6a8b0c2e4f5"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("partner_id", sa.String(40), sa.ForeignKey("partners.id"), nullable=False),
        sa.Column("order_id", sa.String(40), sa.ForeignKey("orders.id"), nullable=False),
        sa.Column("delivery_id", sa.String(40), sa.ForeignKey("deliveries.id"), nullable=False),
        sa.Column("entitlement_id", sa.String(40), nullable=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("description", sa.String(1000), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resolution", sa.String(16), nullable=True),
        sa.Column("resolution_note", sa.String(1000), nullable=True),
        sa.Column("opened_by", sa.String(120), nullable=False),
        sa.Column("opened_at", WHEN, nullable=False),
        sa.Column("first_response_due_at", WHEN, nullable=False),
        sa.Column("resolution_due_at", WHEN, nullable=False),
        sa.Column("first_responded_at", WHEN, nullable=True),
        sa.Column("resolved_at", WHEN, nullable=True),
        sa.Column("resolved_by", sa.String(120), nullable=True),
        sa.Column("replacement_entitlement_id", sa.String(40), nullable=True),
        sa.Column("refunded_points", sa.Integer(), nullable=False),
        sa.Column("refunded_wholesale_minor", sa.BigInteger(), nullable=False),
    )
    for column in ("partner_id", "order_id", "delivery_id"):
        op.create_index(f"ix_cases_{column}", "cases", [column])


def downgrade() -> None:
    op.drop_table("cases")

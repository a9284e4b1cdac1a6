"""one row of dashboard figures per partner and day (orders, value, deliveries, latency)

Revision ID: f8c0d2e4a6b7
Revises: e7b9c1d3f5a6
Create Date: 2026-12-03 09:00:00

The partner dashboard reads a row per day shown instead of scanning the order history; a job
keeps the rows current (app/orders/reports.py).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.core.db import UTCDateTime

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "f8c0d2e4a6b7"
down_revision = "e7b9c1d3f5a6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_day_stats",
        sa.Column("partner_id", sa.String(40), sa.ForeignKey("partners.id"), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("cash_minor", sa.BigInteger(), nullable=False),
        sa.Column("wholesale_minor", sa.BigInteger(), nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("in_flight", sa.Integer(), nullable=False),
        sa.Column("latency_buckets", JSON, nullable=False),
        sa.Column("product_units", JSON, nullable=False),
        sa.Column("refreshed_at", UTCDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("order_day_stats")

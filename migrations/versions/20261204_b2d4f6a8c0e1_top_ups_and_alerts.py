"""Top-up requests and low-balance alert recipients

Revision ID: b2d4f6a8c0e1
Revises: a1c3e5f7b9d2
Create Date: 2026-12-04 10:00:00

Partners tell the platform about a transfer from the portal (the platform credits or rejects
it); the low-balance alert mails its recipients at most once per 24 hours.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.core.db import UTCDateTime

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "b2d4f6a8c0e1"
down_revision = "a1c3e5f7b9d2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("partner_accounts") as batch:
        batch.add_column(
            sa.Column("low_balance_recipients", JSON, nullable=False, server_default="[]")
        )
        batch.add_column(
            sa.Column("low_balance_alerted_at", UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "top_up_requests",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("partner_id", sa.String(40), sa.ForeignKey("partners.id"), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("payment_reference", sa.String(80), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(120), nullable=False),
        sa.Column("decided_by", sa.String(120), nullable=True),
        sa.Column("decided_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.String(500), nullable=True),
        sa.Column("entry_id", sa.String(40), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_top_up_requests_partner_id", "top_up_requests", ["partner_id"])
    op.create_index("ix_top_up_requests_partner_id_id", "top_up_requests", ["partner_id", "id"])
    op.create_index("ix_top_up_requests_status", "top_up_requests", ["status"])


def downgrade() -> None:
    op.drop_table("top_up_requests")
    with op.batch_alter_table("partner_accounts") as batch:
        batch.drop_column("low_balance_alerted_at")
        batch.drop_column("low_balance_recipients")

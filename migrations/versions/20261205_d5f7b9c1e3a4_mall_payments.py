"""Points + cash in the mall: partners' payment pages and the payments made there

Revision ID: d5f7b9c1e3a4
Revises: c4e6a8b0d2f3
Create Date: 2026-12-05 16:00:00
"""

import sqlalchemy as sa
from alembic import op

from app.core.db import UTCDateTime

revision = "d5f7b9c1e3a4"
down_revision = "c4e6a8b0d2f3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.add_column(sa.Column("mall_payment_url", sa.String(500), nullable=True))
        batch.add_column(sa.Column("mall_payment_key_id", sa.String(40), nullable=True))
        batch.add_column(sa.Column("mall_payment_blob", sa.LargeBinary(), nullable=True))
    op.create_table(
        "mall_payments",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("partner_id", sa.String(40), sa.ForeignKey("partners.id"), nullable=False),
        sa.Column("member_id", sa.String(40), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("listing_id", sa.String(40), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("recharge_account", sa.String(128), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("cash_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("checkout_key", sa.String(40), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("payment_ref", sa.String(64), nullable=True),
        sa.Column("order_id", sa.String(40), nullable=True),
        sa.Column("failure", sa.String(300), nullable=True),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("partner_id", "checkout_key"),
    )
    op.create_index("ix_mall_payments_partner_id", "mall_payments", ["partner_id"])


def downgrade() -> None:
    op.drop_table("mall_payments")
    with op.batch_alter_table("partners") as batch:
        for name in ("mall_payment_blob", "mall_payment_key_id", "mall_payment_url"):
            batch.drop_column(name)

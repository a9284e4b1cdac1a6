"""one active allocation per partner and product

Revision ID: 3b1f0c9a7d21
Revises: 0672ab94e85e
Create Date: 2026-11-26 00:00:00

Two allocations of one product for one partner created at the same moment could both pass the
service's check; the partial unique index makes the database refuse the second. A database
that already holds such a pair must have one of them released before this runs.
"""

from alembic import op
import sqlalchemy as sa


revision = "3b1f0c9a7d21"
down_revision = "0672ab94e85e"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.create_index(
            "uq_allocations_active_partner_product",
            ["partner_id", "product_id"],
            unique=True,
            postgresql_where=sa.text("status = 'active'"),
            sqlite_where=sa.text("status = 'active'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_index("uq_allocations_active_partner_product")

"""Reconciliation rows found by delivery

Revision ID: b8d0f2a4c6e7
Revises: a7c9e1f3b5d6
Create Date: 2026-12-04 16:00:00

An after-sales case shows what the supplier's statements said of its unit.
"""

from alembic import op

revision = "b8d0f2a4c6e7"
down_revision = "a7c9e1f3b5d6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_reconciliation_items_delivery_id", "reconciliation_items", ["delivery_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_reconciliation_items_delivery_id", "reconciliation_items")

"""Reissued units point at their replacement delivery

Revision ID: f6b8d0e2a4c5
Revises: e5a7c9d1f3b4
Create Date: 2026-12-04 14:00:00

After-sales reissues direct recharges and links too: the first delivery names the one that
replaced it (the order's status follows the replacement), and a case names its replacement
delivery. Orders gain the final status `refunded`.
"""

import sqlalchemy as sa
from alembic import op

revision = "f6b8d0e2a4c5"
down_revision = "e5a7c9d1f3b4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("replaced_by_id", sa.String(40), nullable=True))
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("replacement_delivery_id", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("replacement_delivery_id")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("replaced_by_id")

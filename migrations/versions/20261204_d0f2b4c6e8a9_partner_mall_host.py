"""Partners' own host names for their malls

Revision ID: d0f2b4c6e8a9
Revises: c9e1a3b5d7f8
Create Date: 2026-12-04 18:00:00

A request to a partner's own host name (mall.jinhai-bank.example) is that partner's mall.
"""

import sqlalchemy as sa
from alembic import op

revision = "d0f2b4c6e8a9"
down_revision = "c9e1a3b5d7f8"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.add_column(sa.Column("mall_host", sa.String(255), nullable=True))
        batch.create_unique_constraint("uq_partners_mall_host", ["mall_host"])


def downgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.drop_constraint("uq_partners_mall_host", type_="unique")
        batch.drop_column("mall_host")

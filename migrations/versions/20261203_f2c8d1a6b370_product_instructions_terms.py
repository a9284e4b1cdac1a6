"""products carry redemption instructions and terms per locale (zh-CN, en)

Revision ID: f2c8d1a6b370
Revises: e4a1b7c2d905
Create Date: 2026-12-03 02:20:00

Members read how to redeem a product and the terms it comes with in the catalog (and the
mall). Existing products have none until an operator writes them.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "f2c8d1a6b370"
down_revision = "e4a1b7c2d905"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("instructions", JSON, nullable=False, server_default="{}"))
        batch.add_column(sa.Column("terms", JSON, nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("products") as batch:
        batch.drop_column("terms")
        batch.drop_column("instructions")

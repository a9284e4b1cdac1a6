"""orders carry the partner's own reference (unique per partner) and a little metadata

Revision ID: e4a1b7c2d905
Revises: d17c9e1f6b85
Create Date: 2026-12-03 02:00:00

`client_reference` is the partner's order number: kept forever (unlike the 24 h idempotency
window), unique per partner, so a second order with it is refused with the first one's id.
Existing orders have none.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "e4a1b7c2d905"
down_revision = "d17c9e1f6b85"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("client_reference", sa.String(64), nullable=True))
        batch.add_column(
            sa.Column("metadata", JSON, nullable=False, server_default="{}")
        )
        batch.create_unique_constraint(
            "uq_orders_partner_id_client_reference", ["partner_id", "client_reference"]
        )


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_constraint("uq_orders_partner_id_client_reference", type_="unique")
        batch.drop_column("metadata")
        batch.drop_column("client_reference")

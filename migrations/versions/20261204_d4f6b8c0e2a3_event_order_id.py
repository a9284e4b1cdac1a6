"""Events name the order they are about

Revision ID: d4f6b8c0e2a3
Revises: c3e5a7b9d1f2
Create Date: 2026-12-04 12:00:00

The portal's order page lists the webhooks sent about the order and sends one again.
"""

import sqlalchemy as sa
from alembic import op

revision = "d4f6b8c0e2a3"
down_revision = "c3e5a7b9d1f2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("order_id", sa.String(40), nullable=True))
    op.create_index("ix_events_order_id", "events", ["order_id"])


def downgrade() -> None:
    op.drop_index("ix_events_order_id", "events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("order_id")

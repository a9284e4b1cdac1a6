"""orders keep the quota counters they counted, so refunds give back exactly those

Revision ID: 7a1c3e9b5f20
Revises: 5d2e8a41c7b3
Create Date: 2026-12-02 21:00:00

A cancel released usage with the caps in force at cancel time: a cap set after the order made
counters go negative. Orders placed before this revision counted with unknown caps and release
nothing (an empty usage).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "7a1c3e9b5f20"
down_revision = "5d2e8a41c7b3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(
            sa.Column(
                "quota_usage",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                nullable=False,
                server_default=sa.text("'{}'"),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("quota_usage")

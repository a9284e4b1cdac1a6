"""deliveries keep the submissions they moved away from, polled until final

Revision ID: 8b2d4f6a1c30
Revises: 7a1c3e9b5f20
Create Date: 2026-12-02 21:10:00

A supplier that accepted, went silent and recharged after we failed over went unrecorded.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.core.db import UTCDateTime

revision = "8b2d4f6a1c30"
down_revision = "7a1c3e9b5f20"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(
            sa.Column(
                "open_submissions",
                sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
                nullable=False,
                server_default=sa.text("'[]'"),
            )
        )
        batch.add_column(sa.Column("open_check_at", UTCDateTime(timezone=True), nullable=True))
        batch.create_index("ix_deliveries_open_check", ["open_check_at"])


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_index("ix_deliveries_open_check")
        batch.drop_column("open_check_at")
        batch.drop_column("open_submissions")

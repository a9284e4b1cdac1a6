"""Per-partner after-sales service levels

Revision ID: e5a7c9d1f3b4
Revises: d4f6b8c0e2a3
Create Date: 2026-12-04 13:00:00

A case's first-response and resolution due times come from its partner's settings.
"""

import sqlalchemy as sa
from alembic import op

revision = "e5a7c9d1f3b4"
down_revision = "d4f6b8c0e2a3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.add_column(
            sa.Column("case_first_response_hours", sa.Integer(), nullable=False, server_default="4")
        )
        batch.add_column(
            sa.Column("case_resolution_hours", sa.Integer(), nullable=False, server_default="48")
        )


def downgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.drop_column("case_resolution_hours")
        batch.drop_column("case_first_response_hours")

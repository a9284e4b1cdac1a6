"""Members' e-mail addresses, sealed, for their notifications

Revision ID: e6a8c0d2f4b5
Revises: d5f7b9c1e3a4
Create Date: 2026-12-05 18:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "e6a8c0d2f4b5"
down_revision = "d5f7b9c1e3a4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("email_key_id", sa.String(40), nullable=True))
        batch.add_column(sa.Column("email_blob", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("email_masked", sa.String(260), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("members") as batch:
        for name in ("email_masked", "email_blob", "email_key_id"):
            batch.drop_column(name)

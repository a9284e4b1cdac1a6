"""the dispatcher only enqueues sends: an endpoint is no longer marked slow

Revision ID: d17c9e1f6b85
Revises: cf6b8d0e5a74
Create Date: 2026-12-02 23:20:00

Every delivery is sent by a job of its own (one attempt in flight per endpoint, 5 s timeout),
so no endpoint needs to be kept off a shared sender any more.
"""

import sqlalchemy as sa
from alembic import op

revision = "d17c9e1f6b85"
down_revision = "cf6b8d0e5a74"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.drop_column("is_slow")


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.add_column(
            sa.Column("is_slow", sa.Boolean(), nullable=False, server_default=sa.false())
        )

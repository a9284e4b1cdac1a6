"""webhook sends are leased, endpoints limited to one attempt in flight, slow ones marked

Revision ID: be5a7c9d4f63
Revises: ad4f6b8c3e52
Create Date: 2026-12-02 21:40:00

The retry sweep queued a send for every due delivery on each pass whether or not one was
already queued (2,003 jobs for 191 deliveries), and one slow endpoint held the dispatcher
that serves every partner.
"""

import sqlalchemy as sa
from alembic import op

from app.core.db import UTCDateTime

revision = "be5a7c9d4f63"
down_revision = "ad4f6b8c3e52"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("lease_until", UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.add_column(
            sa.Column("is_slow", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("attempt_until", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.drop_column("attempt_until")
        batch.drop_column("is_slow")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("lease_until")

"""orders record the member context the partner sends (for risk rules)

Revision ID: cf6b8d0e5a74
Revises: be5a7c9d4f63
Create Date: 2026-12-02 23:10:00

Risk rules need the member's IP, device and membership age at the moment of the order; the
partner may send them with the order. `pending` and `refunded` were never set: existing rows
cannot hold them, so nothing to migrate.
"""

import sqlalchemy as sa
from alembic import op

revision = "cf6b8d0e5a74"
down_revision = "be5a7c9d4f63"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("member_ip", sa.String(45), nullable=True))
        batch.add_column(sa.Column("device_id", sa.String(128), nullable=True))
        batch.add_column(sa.Column("member_since", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("member_since")
        batch.drop_column("device_id")
        batch.drop_column("member_ip")

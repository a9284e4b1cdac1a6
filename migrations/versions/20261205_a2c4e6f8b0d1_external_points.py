"""Partners that keep their members' points in their own ledger

Revision ID: a2c4e6f8b0d1
Revises: f2b4d6f8a0c1
Create Date: 2026-12-05 10:00:00

A partner's points source (`internal` or `external`), its points service (URL and sealed
signing secret), and the deductions and refunds sent to it.
"""

import sqlalchemy as sa
from alembic import op

from app.core.db import UTCDateTime

revision = "a2c4e6f8b0d1"
down_revision = "f2b4d6f8a0c1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.add_column(
            sa.Column("points_source", sa.String(16), nullable=False, server_default="internal")
        )
        batch.add_column(sa.Column("points_service_url", sa.String(500), nullable=True))
        batch.add_column(sa.Column("points_service_key_id", sa.String(40), nullable=True))
        batch.add_column(sa.Column("points_service_blob", sa.LargeBinary(), nullable=True))
    op.create_table(
        "external_points_moves",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("partner_id", sa.String(40), sa.ForeignKey("partners.id"), nullable=False),
        sa.Column("member_id", sa.String(40), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("order_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("resolved_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_external_points_moves_partner_id", "external_points_moves", ["partner_id"]
    )
    op.create_index(
        "ix_external_points_moves_partner_order",
        "external_points_moves",
        ["partner_id", "order_id"],
    )
    op.create_index(
        "ix_external_points_moves_due", "external_points_moves", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_external_points_moves_partner_created",
        "external_points_moves",
        ["partner_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_table("external_points_moves")
    with op.batch_alter_table("partners") as batch:
        for name in ("points_service_blob", "points_service_key_id", "points_service_url"):
            batch.drop_column(name)
        batch.drop_column("points_source")

"""Notifications to members

Revision ID: b3d5f7a9c1e2
Revises: a2c4e6f8b0d1
Create Date: 2026-12-05 12:00:00

Members have a language and may opt out; partners choose how members are told (our SMS, their
own via `notification.*` events, or not at all) and may word each message; the notifications
themselves, one per (kind, subject).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.core.db import UTCDateTime

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "b3d5f7a9c1e2"
down_revision = "a2c4e6f8b0d1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("language", sa.String(8), nullable=True))
        batch.add_column(
            sa.Column("notifications", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("partners") as batch:
        batch.add_column(
            sa.Column("notification_channel", sa.String(8), nullable=False, server_default="sms")
        )
        batch.add_column(
            sa.Column("notification_templates", JSON, nullable=False, server_default="{}")
        )
    op.create_table(
        "member_notifications",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("partner_id", sa.String(40), sa.ForeignKey("partners.id"), nullable=False),
        sa.Column("member_id", sa.String(40), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("subject_id", sa.String(40), nullable=False),
        sa.Column("order_id", sa.String(40), nullable=True),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("skip_reason", sa.String(16), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("kind", "subject_id"),
    )
    op.create_index("ix_member_notifications_partner_id", "member_notifications", ["partner_id"])
    op.create_index(
        "ix_member_notifications_member_created", "member_notifications", ["member_id", "created_at"]
    )
    op.create_index("ix_member_notifications_status", "member_notifications", ["status"])


def downgrade() -> None:
    op.drop_table("member_notifications")
    with op.batch_alter_table("partners") as batch:
        batch.drop_column("notification_templates")
        batch.drop_column("notification_channel")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("notifications")
        batch.drop_column("language")

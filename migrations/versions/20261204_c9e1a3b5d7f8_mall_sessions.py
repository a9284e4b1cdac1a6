"""Mall launch tokens and sessions

Revision ID: c9e1a3b5d7f8
Revises: b8d0f2a4c6e7
Create Date: 2026-12-04 17:00:00

Members enter their partner's mall from the partner's app by a one-time launch token (valid a
minute) and shop in a server-side session bound to the partner and the member.
"""

import sqlalchemy as sa
from alembic import op

from app.core.db import UTCDateTime

revision = "c9e1a3b5d7f8"
down_revision = "b8d0f2a4c6e7"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mall_launch_tokens",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("partner_id", sa.String(40), sa.ForeignKey("partners.id"), nullable=False),
        sa.Column("member_id", sa.String(40), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_mall_launch_tokens_partner_id", "mall_launch_tokens", ["partner_id"])
    op.create_table(
        "mall_sessions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("partner_id", sa.String(40), sa.ForeignKey("partners.id"), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("member_id", sa.String(40), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_mall_sessions_partner_id", "mall_sessions", ["partner_id"])
    op.create_index("ix_mall_sessions_member_id", "mall_sessions", ["member_id"])


def downgrade() -> None:
    op.drop_table("mall_sessions")
    op.drop_table("mall_launch_tokens")

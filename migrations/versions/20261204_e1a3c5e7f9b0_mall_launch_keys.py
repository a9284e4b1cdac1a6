"""Partners' keys for the launches they sign

Revision ID: e1a3c5e7f9b0
Revises: d0f2b4c6e8a9
Create Date: 2026-12-04 19:00:00

A partner may sign mall launches itself (a JWT, RS256 or ES256) with a key it registered.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.core.db import UTCDateTime

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "e1a3c5e7f9b0"
down_revision = "d0f2b4c6e8a9"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mall_launch_keys",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("partner_id", sa.String(40), sa.ForeignKey("partners.id"), nullable=False),
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("public_jwk", JSON, nullable=False),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("partner_id", "kid"),
    )
    op.create_index("ix_mall_launch_keys_partner_id", "mall_launch_keys", ["partner_id"])


def downgrade() -> None:
    op.drop_table("mall_launch_keys")

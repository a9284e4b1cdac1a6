"""staff accounts, their server-side sessions and one-time links; outgoing mail

Revision ID: b4e6f8a0c2d3
Revises: a3d5e7f9b1c2
Create Date: 2026-12-03 05:00:00

Partner and platform staff sign in to the portal with email + password (argon2) and a TOTP
second factor (its secret sealed in the vault, recovery codes as digests); each browser holds
a session row (token digest, idle and absolute end, revocation). Invitations and password
resets are one-time links (token digests) sent through outgoing_mail (bodies sealed).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.core.db import UTCDateTime

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
WHEN = UTCDateTime(timezone=True)

revision = "b4e6f8a0c2d3"
down_revision = "a3d5e7f9b1c2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_users",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("partner_id", sa.String(40), sa.ForeignKey("partners.id"), nullable=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("totp_key_id", sa.String(40), nullable=True),
        sa.Column("totp_blob", sa.LargeBinary(), nullable=True),
        sa.Column("totp_enabled_at", WHEN, nullable=True),
        sa.Column("totp_last_step", sa.Integer(), nullable=True),
        sa.Column("recovery_code_hashes", JSON, nullable=False),
        sa.Column("locale", sa.String(10), nullable=True),
        sa.Column("last_sign_in_at", WHEN, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
    )
    op.create_index("ix_staff_users_partner_id", "staff_users", ["partner_id"])
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("staff_id", sa.String(40), sa.ForeignKey("staff_users.id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_seen_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("verified_at", WHEN, nullable=True),
        sa.Column("revoked_at", WHEN, nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(300), nullable=True),
    )
    op.create_index("ix_staff_sessions_staff_id", "staff_sessions", ["staff_id"])
    op.create_table(
        "staff_tokens",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("staff_id", sa.String(40), sa.ForeignKey("staff_users.id"), nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
        sa.Column("used_at", WHEN, nullable=True),
    )
    op.create_index("ix_staff_tokens_staff_id", "staff_tokens", ["staff_id"])
    op.create_table(
        "outgoing_mail",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("to_address", sa.String(254), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body_key_id", sa.String(40), nullable=False),
        sa.Column("body_blob", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("sent_at", WHEN, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("outgoing_mail")
    op.drop_table("staff_tokens")
    op.drop_table("staff_sessions")
    op.drop_table("staff_users")

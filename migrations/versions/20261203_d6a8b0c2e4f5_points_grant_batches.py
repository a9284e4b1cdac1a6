"""bulk points grants from CSV files, and each partner's approval threshold for them

Revision ID: d6a8b0c2e4f5
Revises: c5f7a9b1d3e4
Create Date: 2026-12-03 07:00:00

A file is validated whole, kept with its rows' errors, applied all or nothing by a job and
never twice (its SHA-256 is unique per partner). Files granting more than the partner's
threshold (default 1,000,000 points) wait for a second staff member.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.core.db import UTCDateTime

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
WHEN = UTCDateTime(timezone=True)

revision = "d6a8b0c2e4f5"
down_revision = "c5f7a9b1d3e4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.add_column(
            sa.Column(
                "bulk_grant_approval_points",
                sa.BigInteger(),
                nullable=False,
                server_default="1000000",
            )
        )
    op.create_table(
        "points_grant_batches",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("partner_id", sa.String(40), sa.ForeignKey("partners.id"), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("total_points", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("errors", JSON, nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("applied_rows", sa.Integer(), nullable=False),
        sa.Column("failure", sa.String(500), nullable=True),
        sa.Column("requested_by", sa.String(80), nullable=False),
        sa.Column("approved_by", sa.String(80), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("applied_at", WHEN, nullable=True),
        sa.UniqueConstraint(
            "partner_id", "file_sha256", name="uq_points_grant_batches_partner_id_file_sha256"
        ),
    )
    op.create_index("ix_points_grant_batches_partner_id", "points_grant_batches", ["partner_id"])


def downgrade() -> None:
    op.drop_table("points_grant_batches")
    with op.batch_alter_table("partners") as batch:
        batch.drop_column("bulk_grant_approval_points")

"""Authorization documents

Revision ID: a7c9e1f3b5d6
Revises: f6b8d0e2a4c5
Create Date: 2026-12-04 15:00:00

Operators keep the scans of each authorization's contract with it (PDF, PNG, JPEG).
"""

import sqlalchemy as sa
from alembic import op

from app.core.db import UTCDateTime

revision = "a7c9e1f3b5d6"
down_revision = "f6b8d0e2a4c5"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "authorization_documents",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "authorization_id", sa.String(40), sa.ForeignKey("authorizations.id"), nullable=False
        ),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(60), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(120), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_authorization_documents_authorization_id",
        "authorization_documents",
        ["authorization_id"],
    )


def downgrade() -> None:
    op.drop_table("authorization_documents")

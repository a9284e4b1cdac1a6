"""Listing price floor and per-member monthly limit

Revision ID: a1c3e5f7b9d2
Revises: f8c0d2e4a6b7
Create Date: 2026-12-04 09:00:00

Partner staff now set their own member prices in the portal, within a floor the platform sets
per partner (a share of wholesale); a listing may cap the units one member buys a month.
"""

import sqlalchemy as sa
from alembic import op

revision = "a1c3e5f7b9d2"
down_revision = "f8c0d2e4a6b7"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.add_column(
            sa.Column("price_floor_bp", sa.Integer(), nullable=False, server_default="8000")
        )
    with op.batch_alter_table("listings") as batch:
        batch.add_column(sa.Column("member_monthly_units", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("listings") as batch:
        batch.drop_column("member_monthly_units")
    with op.batch_alter_table("partners") as batch:
        batch.drop_column("price_floor_bp")

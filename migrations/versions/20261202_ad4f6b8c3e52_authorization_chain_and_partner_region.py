"""the authorization chain recorded: partners' region, batches' and deliveries' authorization,
entitlements' provenance

Revision ID: ad4f6b8c3e52
Revises: 9c3e5a7b2d41
Create Date: 2026-12-02 21:30:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "ad4f6b8c3e52"
down_revision = "9c3e5a7b2d41"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.add_column(
            sa.Column("region", sa.String(60), nullable=False, server_default=sa.text("'CN'"))
        )
    with op.batch_alter_table("code_batches") as batch:
        batch.add_column(sa.Column("authorization_id", sa.String(40), nullable=True))
        batch.create_foreign_key(
            "fk_code_batches_authorization_id", "authorizations", ["authorization_id"], ["id"]
        )
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("authorization_id", sa.String(40), nullable=True))
        batch.create_foreign_key(
            "fk_deliveries_authorization_id", "authorizations", ["authorization_id"], ["id"]
        )
    with op.batch_alter_table("entitlements") as batch:
        batch.add_column(
            sa.Column(
                "provenance", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("entitlements") as batch:
        batch.drop_column("provenance")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint("fk_deliveries_authorization_id", type_="foreignkey")
        batch.drop_column("authorization_id")
    with op.batch_alter_table("code_batches") as batch:
        batch.drop_constraint("fk_code_batches_authorization_id", type_="foreignkey")
        batch.drop_column("authorization_id")
    with op.batch_alter_table("partners") as batch:
        batch.drop_column("region")

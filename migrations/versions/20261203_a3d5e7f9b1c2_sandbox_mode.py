"""sandbox mode: test-mode twin partners, sandbox products and the sandbox supplier

Revision ID: a3d5e7f9b1c2
Revises: f2c8d1a6b370
Create Date: 2026-12-03 04:10:00

A partner's sandbox clients act for its sandbox twin (`partners.sandbox_of_id`), so tenancy
keeps test data out of every live list. Sandbox products (`products.sandbox_behaviour`) are
sold only by twins and fulfilled only by the in-process sandbox supplier
(`suppliers.is_sandbox`), so no test order reaches a real supplier or an invoice.
"""

import sqlalchemy as sa
from alembic import op

revision = "a3d5e7f9b1c2"
down_revision = "f2c8d1a6b370"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.add_column(sa.Column("sandbox_of_id", sa.String(40), nullable=True))
        batch.create_unique_constraint("uq_partners_sandbox_of_id", ["sandbox_of_id"])
        batch.create_foreign_key(
            "fk_partners_sandbox_of_id_partners", "partners", ["sandbox_of_id"], ["id"]
        )
    with op.batch_alter_table("products") as batch:
        batch.add_column(sa.Column("sandbox_behaviour", sa.String(40), nullable=True))
    with op.batch_alter_table("suppliers") as batch:
        batch.add_column(
            sa.Column("is_sandbox", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("suppliers") as batch:
        batch.drop_column("is_sandbox")
    with op.batch_alter_table("products") as batch:
        batch.drop_column("sandbox_behaviour")
    with op.batch_alter_table("partners") as batch:
        batch.drop_constraint("fk_partners_sandbox_of_id_partners", type_="foreignkey")
        batch.drop_constraint("uq_partners_sandbox_of_id", type_="unique")
        batch.drop_column("sandbox_of_id")

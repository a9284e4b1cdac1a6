"""members' phones sealed by the vault, looked up by fingerprint, shown masked

Revision ID: 9c3e5a7b2d41
Revises: 8b2d4f6a1c30
Create Date: 2026-12-02 21:20:00

Personal data was stored in clear. Existing phones are sealed with the configured vault keys
(QUANYI_VAULT_KEYS / the development keys under instance/) before the clear column goes.
"""

import hashlib

import sqlalchemy as sa
from alembic import op

from app.config import load_settings
from app.core.vault import Vault, parse_keys

revision = "9c3e5a7b2d41"
down_revision = "8b2d4f6a1c30"
branch_labels = None
depends_on = None


def _vault() -> Vault:
    settings = load_settings()
    fingerprint_key = hashlib.sha256(
        b"quanyi-fingerprint:" + settings.vault_fingerprint_key.encode()
    ).digest()
    return Vault(parse_keys(settings.vault_keys), fingerprint_key)


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("phone_key_id", sa.String(40), nullable=True))
        batch.add_column(sa.Column("phone_blob", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("phone_fingerprint", sa.String(64), nullable=True))
        batch.add_column(sa.Column("phone_masked", sa.String(20), nullable=True))
        batch.create_index("ix_members_partner_phone", ["partner_id", "phone_fingerprint"])
    conn = op.get_bind()
    members = sa.table(
        "members",
        sa.column("id", sa.String),
        sa.column("phone", sa.String),
        sa.column("phone_key_id", sa.String),
        sa.column("phone_blob", sa.LargeBinary),
        sa.column("phone_fingerprint", sa.String),
        sa.column("phone_masked", sa.String),
    )
    rows = conn.execute(
        sa.select(members.c.id, members.c.phone).where(members.c.phone.is_not(None))
    ).all()
    if rows:
        vault = _vault()
        for member_id, phone in rows:
            sealed = vault.seal(phone, f"member:{member_id}:phone")
            conn.execute(
                members.update()
                .where(members.c.id == member_id)
                .values(
                    phone_key_id=sealed.key_id,
                    phone_blob=sealed.blob,
                    phone_fingerprint=vault.fingerprint(phone),
                    phone_masked=phone[:3] + "****" + phone[-4:] if len(phone) > 7 else "****",
                )
            )
    with op.batch_alter_table("members") as batch:
        batch.drop_column("phone")


def downgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("phone", sa.String(20), nullable=True))
        batch.drop_index("ix_members_partner_phone")
        batch.drop_column("phone_masked")
        batch.drop_column("phone_fingerprint")
        batch.drop_column("phone_blob")
        batch.drop_column("phone_key_id")

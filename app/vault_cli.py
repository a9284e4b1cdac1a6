"""`flask vault …`: the vault's keys across every domain that seals data (card keys, supplier
credentials, members' phones, staff TOTP secrets)."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from app.auth import staff
from app.core.vault import current_vault
from app.extensions import db
from app.members.service import phone_key_usage, reseal_phones
from app.supply import imports

vault_cli = AppGroup("vault", help="Vault keys.")


def _key_usage(session: Session) -> dict[str, int]:
    """Sealed rows per key id: codes, supplier credentials, members' phones, staff TOTP."""
    usage = imports.key_usage(session)
    for counted in (phone_key_usage(session), staff.totp_key_usage(session)):
        for key_id, count in counted.items():
            usage[key_id] = usage.get(key_id, 0) + count
    return usage


@vault_cli.command("rotate-key")
@click.option("--batch-size", default=500, show_default=True)
def rotate_key(batch_size: int) -> None:
    """Re-seal every code, supplier credential, member's phone and staff TOTP secret with the
    current (first) key, in small committed batches beside live traffic. Afterwards the old key
    can go."""
    vault = current_vault()
    total = 0
    while True:
        with db.transaction() as session:
            done = imports.reseal_batch(session, vault, batch_size)
            done += reseal_phones(session, vault, batch_size)
            done += staff.reseal_totp(session, vault, batch_size)
        total += done
        if done == 0:
            break
    with db.transaction() as session:
        usage = _key_usage(session)
    click.echo(f"resealed {total} row(s) with key {vault.current_key_id}; keys in use: {usage}")


@vault_cli.command("key-usage")
def key_usage() -> None:
    """How many sealed rows each key id still opens."""
    click.echo(_key_usage(db.session()))

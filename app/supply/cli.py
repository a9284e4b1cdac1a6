"""`flask supply …` and `flask vault …`: operator commands that involve files or the keys."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from app.auth import staff
from app.core.audit import Actor
from app.core.vault import current_vault
from app.extensions import db
from app.members.service import phone_key_usage, reseal_phones
from app.supply import imports, products, suppliers
from app.supply.errors import CodeImportRejected

supply_cli = AppGroup("supply", help="The shared supply.")
vault_cli = AppGroup("vault", help="Card-key vault keys.")

CLI_ACTOR = Actor("cli", "operator")


@supply_cli.command("import-codes")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--product", "product_id", required=True, help="prd_… of a card-key product")
@click.option("--offer", "offer_id", required=True, help="ofr_… the codes were bought under")
def import_codes(file: Path, product_id: str, offer_id: str) -> None:
    """Import FILE (CSV: code[,password][,expires_at]) as one batch, all or nothing."""
    try:
        with db.transaction() as session:
            product = products.get_product(session, product_id)
            rows = imports.parse_code_csv(file.read_bytes())
            batch = imports.import_codes(
                session, CLI_ACTOR, current_vault(), product, rows, file.name, offer_id
            )
    except CodeImportRejected as rejected:
        for problem in rejected.lines:
            click.echo(f"line {problem['line']}: {problem['message']}", err=True)
        raise click.ClickException(rejected.detail) from None
    click.echo(f"imported {batch.code_count} codes as {batch.id}")


@supply_cli.command("check-authorizations")
def check_authorizations() -> None:
    """Recompute which products are sellable today (run daily, just after midnight CST)."""
    with db.transaction() as session:
        changed = suppliers.refresh_availability(session, CLI_ACTOR)
    click.echo(f"{len(changed)} product(s) changed availability")


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

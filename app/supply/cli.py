"""`flask supply …`: operator commands on the shared supply."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from app.core.audit import Actor
from app.core.vault import current_vault
from app.extensions import db
from app.supply import imports, products, suppliers
from app.supply.errors import CodeImportRejected

supply_cli = AppGroup("supply", help="The shared supply.")

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

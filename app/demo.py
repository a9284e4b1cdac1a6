"""`flask demo seed`: everything `make run` needs to show Quanyi from nothing. Idempotent."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from app.config import ROOT
from app.core.vault import current_vault
from app.extensions import db
from app.partners.cli import CLI_ACTOR
from app.partners.service import sync_partners
from app.supply.demo import seed_supply
from app.supply.service import platform_today

demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("seed")
@click.option("--partners", "root", default=str(Path(ROOT) / "partners"), type=click.Path())
def seed(root: str) -> None:
    """Load the demo partners and the demo supply (seeding twice changes nothing)."""
    with db.transaction() as session:
        report = sync_partners(session, CLI_ACTOR, Path(root))
        if report.errors:
            for line in report.lines():
                click.echo(line)
            raise click.ClickException("some partner files are invalid")
        created = seed_supply(session, CLI_ACTOR, current_vault(), platform_today())
    for line in report.lines():
        click.echo(line)
    click.echo("supply: " + ", ".join(f"{n} {what} created" for what, n in created.items()))

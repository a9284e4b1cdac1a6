"""`flask demo seed`: everything `make run` needs to show Quanyi from nothing. Idempotent."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.service import account_for, top_up
from app.config import ROOT
from app.core.audit import Actor
from app.core.vault import current_vault
from app.extensions import db
from app.partners.cli import CLI_ACTOR
from app.partners.models import Partner
from app.partners.service import sync_partners
from app.supply.demo import seed_supply
from app.supply.suppliers import platform_today

demo_cli = AppGroup("demo", help="Demo data.")
DEMO_PREPAYMENT_MINOR = 10_000_000  # ¥100,000 of prepaid balance per demo partner


def fund_demo_partners(session: Session, actor: Actor) -> int:
    """Prepay each demo partner once, so that demo orders go through."""
    funded = 0
    for partner in session.scalars(select(Partner)):
        if account_for(session, partner.id).balance_minor == 0:
            top_up(session, actor, partner.id, DEMO_PREPAYMENT_MINOR, "demo prepayment")
            funded += 1
    return funded


@demo_cli.command("seed")
@click.option("--partners", "root", default=str(Path(ROOT) / "partners"), type=click.Path())
def seed(root: str) -> None:
    """Load the demo partners and the demo supply (seeding twice changes nothing). Refused in
    production: the demo's supplier secret is public and its codes derivable."""
    if current_app.config.get("ENV_NAME") == "production":
        raise click.ClickException("the demo is never seeded in production (QUANYI_ENV)")
    with db.transaction() as session:
        sim_url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/supplier-sim"
        created = seed_supply(session, CLI_ACTOR, current_vault(), platform_today(), sim_url)
        report = sync_partners(session, CLI_ACTOR, Path(root))
        if report.errors:
            for line in report.lines():
                click.echo(line)
            raise click.ClickException("some partner files are invalid")
        funded = fund_demo_partners(session, CLI_ACTOR)
    for line in report.lines():
        click.echo(line)
    click.echo("supply: " + ", ".join(f"{n} {what} created" for what, n in created.items()))
    if funded:
        click.echo(f"funded {funded} demo partner account(s)")

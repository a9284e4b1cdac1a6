"""`flask demo seed`: everything `make run` needs to show Quanyi from nothing. Idempotent."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from app.config import ROOT
from app.extensions import db
from app.partners.cli import CLI_ACTOR
from app.partners.service import sync_partners

demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("seed")
@click.option("--partners", "root", default=str(Path(ROOT) / "partners"), type=click.Path())
def seed(root: str) -> None:
    """Load the demo partners (seeding twice changes nothing)."""
    with db.transaction() as session:
        report = sync_partners(session, CLI_ACTOR, Path(root))
    for line in report.lines():
        click.echo(line)
    if report.errors:
        raise click.ClickException("some partner files are invalid")

"""`flask members …`: scheduled points work, and the partners' own points services."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.core.audit import Actor
from app.core.vault import current_vault
from app.extensions import db
from app.members import external
from app.members.jobs import send_due_moves
from app.members.service import expire_points
from app.partners.service import find_partner_by_slug

members_cli = AppGroup("members", help="Members and points.")


@members_cli.command("expire-points")
def expire_points_command() -> None:
    """Expire points past their grant's expiry, one ledger entry each (hourly; idempotent)."""
    with db.transaction() as session:
        total = expire_points(session)
    click.echo(f"expired {total} points")


@members_cli.command("points-service")
@click.argument("slug")
@click.option("--url", required=True, help="the base URL of the partner's points service")
@click.option("--secret", prompt=True, hide_input=True, help="the signing secret shared with it")
def points_service(slug: str, url: str, secret: str) -> None:
    """Keep partner SLUG's points in its own ledger, reached at URL (points source external)."""
    with db.transaction() as session:
        partner = find_partner_by_slug(session, slug)
        if partner is None:
            raise click.ClickException(f"no partner {slug!r}")
        external.configure(session, Actor("cli", "operator"), partner, current_vault(), url, secret)
    click.echo(f"{slug}: points kept by its own ledger at {url}")


@members_cli.command("send-points-moves")
def send_points_moves() -> None:
    """Send the deductions and refunds due at partners' points services (every minute)."""
    send_due_moves()

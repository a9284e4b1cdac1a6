"""`flask sandbox …`: a partner's test-mode twin and its clients."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.core.vault import current_vault
from app.extensions import db
from app.partners import service as partners
from app.partners.cli import CLI_ACTOR, GRACE, issue_named_client, print_credentials
from app.partners.models import Partner
from app.sandbox import service

sandbox_cli = AppGroup("sandbox", help="Partners' sandboxes (test mode).")


def _provision(slug: str) -> Partner:
    with db.transaction() as session:
        live = partners.find_partner_by_slug(session, slug)
        if live is None:
            raise click.ClickException(f"no partner with slug {slug!r}")
        twin = service.provision(session, CLI_ACTOR, current_vault(), live)
        session.flush()
        session.expunge(twin)
    return twin


@sandbox_cli.command("provision")
@click.argument("slug")
def provision(slug: str) -> None:
    """Create SLUG's sandbox twin, or top up its test money and test codes."""
    twin = _provision(slug)
    click.echo(f"sandbox of {slug}: {twin.slug} ({twin.id})")


@sandbox_cli.command("credentials")
@click.argument("slug")
@click.option("--name", default="sandbox", show_default=True, help="Client name to create/rotate.")
@click.option("--shell", "as_shell", is_flag=True, help="Print as shell exports.")
@GRACE
def credentials(slug: str, name: str, as_shell: bool, grace: int) -> None:
    """Issue a fresh secret for a sandbox client of SLUG (its twin provisioned first)."""
    twin = _provision(slug)
    print_credentials(issue_named_client(twin.id, "partner", name, grace), as_shell)

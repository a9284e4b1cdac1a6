"""`flask partners …` and `flask platform …`: operator commands."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.auth import service as auth_service
from app.auth.models import ApiClient
from app.core.audit import Actor
from app.extensions import db
from app.partners import service

partners_cli = AppGroup("partners", help="Partners and their declarative definitions.")
platform_cli = AppGroup("platform", help="Platform operator credentials.")

CLI_ACTOR = Actor("cli", "operator")


@partners_cli.command("sync")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
def sync(root: Path) -> None:
    """Create or update partners from ROOT/<slug>/partner.yaml (never deletes)."""
    with db.transaction() as session:
        report = service.sync_partners(session, CLI_ACTOR, root)
    for line in report.lines():
        click.echo(line)
    if report.errors:
        sys.exit(1)


def issue_named_client(
    partner_id: str | None, kind: str, name: str, grace_seconds: int
) -> auth_service.IssuedClient:
    """Rotate the client called `name` (its old secret and tokens last `grace_seconds` more),
    or create it: the secret is shown once, now."""
    with db.transaction() as session:
        existing = session.scalars(
            select(ApiClient).where(
                ApiClient.partner_id.is_(None)
                if partner_id is None
                else ApiClient.partner_id == partner_id,
                ApiClient.kind == kind,
                ApiClient.name == name,
                ApiClient.status == "active",
            )
        ).first()
        if existing is not None:
            return auth_service.rotate_client_secret(
                session, CLI_ACTOR, existing, timedelta(seconds=grace_seconds)
            )
        return auth_service.create_client(
            session, CLI_ACTOR, kind=kind, partner_id=partner_id, name=name
        )


GRACE = click.option(
    "--grace",
    type=click.IntRange(0, 7 * 24 * 3600),
    default=0,
    show_default=True,
    help="Seconds the old secret and its tokens keep working (0: revoked at once).",
)


def print_credentials(issued: auth_service.IssuedClient, as_shell: bool) -> None:
    if as_shell:
        click.echo(f"export CLIENT_ID={issued.client.id}")
        click.echo(f"export CLIENT_SECRET={issued.secret}")
    else:
        click.echo(f"client_id:     {issued.client.id}")
        click.echo(f"client_secret: {issued.secret}   (shown once; run again to rotate)")
        click.echo(f"scopes:        {issued.client.scope}")


@partners_cli.command("credentials")
@click.argument("slug")
@click.option("--name", default="demo", show_default=True, help="Client name to create/rotate.")
@click.option("--shell", "as_shell", is_flag=True, help="Print as shell exports.")
@GRACE
def credentials(slug: str, name: str, as_shell: bool, grace: int) -> None:
    """Issue a fresh secret for SLUG's client NAME (created if missing)."""
    partner = service.find_partner_by_slug(db.session(), slug)
    if partner is None:
        raise click.ClickException(f"no partner with slug {slug!r}; run 'flask demo seed' first")
    print_credentials(issue_named_client(partner.id, "partner", name, grace), as_shell)


@platform_cli.command("credentials")
@click.option("--name", default="operator", show_default=True)
@click.option("--shell", "as_shell", is_flag=True, help="Print as shell exports.")
@GRACE
def platform_credentials(name: str, as_shell: bool, grace: int) -> None:
    """Issue a fresh secret for the platform client NAME (created if missing)."""
    print_credentials(issue_named_client(None, "platform", name, grace), as_shell)

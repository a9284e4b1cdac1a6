"""`flask staff …`: portal accounts."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.auth import staff as staff_service
from app.core.audit import Actor
from app.core.tenancy import partner_id_by_slug
from app.extensions import db

staff_cli = AppGroup("staff", help="Admin portal accounts.")
CLI_ACTOR = Actor("cli", "operator")


@staff_cli.command("create")
@click.argument("email")
@click.option("--partner", "slug", help="The partner's slug (omit for platform staff).")
@click.option(
    "--role",
    required=True,
    help="owner|admin|operations|support|finance|viewer, or "
    "for platform staff operator|finance|support.",
)
@click.option("--name", default=None, help="Display name (default: the email's local part).")
@click.password_option(help="At least 12 characters (asked for when not given).")
def create(email: str, slug: str | None, role: str, name: str | None, password: str) -> None:
    """Create a staff account; staff who need a second factor set it up at first sign-in."""
    with db.transaction() as session:
        partner_id = None
        if slug:
            partner_id = partner_id_by_slug(session, slug)
            if partner_id is None:
                raise click.ClickException(f"no partner with slug {slug!r}")
        staff = staff_service.create_staff(
            session,
            CLI_ACTOR,
            email=email,
            name=name or email.split("@")[0],
            role=role,
            partner_id=partner_id,
            password=password,
        )
        click.echo(f"{staff.id} {staff.email} ({role}{', ' + slug if slug else ', platform'})")

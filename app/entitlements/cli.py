"""`flask entitlements …`: scheduled entitlement work."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.core.db import utcnow
from app.entitlements.service import expire_entitlements
from app.extensions import db

entitlements_cli = AppGroup("entitlements", help="Members' entitlements.")


@entitlements_cli.command("expire")
def expire_command() -> None:
    """Expire entitlements past their validity, with an event each (hourly; idempotent)."""
    with db.transaction() as session:
        total = expire_entitlements(session, utcnow())
    click.echo(f"expired {total} entitlement(s)")

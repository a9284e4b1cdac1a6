"""`flask members …`: scheduled points work."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.extensions import db
from app.members.service import expire_points

members_cli = AppGroup("members", help="Members and points.")


@members_cli.command("expire-points")
def expire_points_command() -> None:
    """Expire points past their grant's expiry, one ledger entry each (hourly; idempotent)."""
    with db.transaction() as session:
        total = expire_points(session)
    click.echo(f"expired {total} points")

"""`flask notifications run`: every minute, in the sweep."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.notifications.jobs import run

notifications_cli = AppGroup("notifications", help="Notifications to members.")


@notifications_cli.command("run")
def run_command() -> None:
    """Turn the events since the last pass into notifications (each told once) and send them."""
    click.echo(f"sent {run()} notification(s)")

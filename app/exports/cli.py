"""`flask exports run`: hourly, queue the scheduled exports that are due."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.exports.jobs import run_schedules

exports_cli = AppGroup("exports", help="CSV exports and their schedules.")


@exports_cli.command("run")
def run() -> None:
    """Queue due scheduled exports, re-ask lost ones, drop expired files (hourly)."""
    click.echo(f"queued {run_schedules()} scheduled export(s)")

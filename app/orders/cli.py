"""`flask orders …`: scheduled order reporting work."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.orders.jobs import refresh_dashboards

orders_cli = AppGroup("orders", help="Order reporting.")


@orders_cli.command("refresh-dashboards")
@click.option("--days", type=click.IntRange(1, 400), default=2, show_default=True)
def refresh(days: int) -> None:
    """Recompute the dashboards' day rows of the last DAYS days (every few minutes: 2;
    nightly: 35, for late failures and refunds)."""
    count = refresh_dashboards(days)
    click.echo(f"refreshed {days} day(s) of {count} partner(s)")

"""`flask billing …`: invoices and supplier reconciliation from the command line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import or_, select

from app.billing import invoices, settlement
from app.core.errors import DomainError
from app.extensions import db
from app.partners.cli import CLI_ACTOR
from app.supply.models import Supplier

billing_cli = AppGroup("billing", help="Invoices, settlement and reconciliation.")


@billing_cli.command("invoice")
@click.option("--month", default=None, help="YYYY-MM (default: each plan's previous month)")
@click.option("--partner", "slug", default=None, help="one partner's slug (default: all)")
@click.option("--issue", is_flag=True, help="also issue them (the month must be over)")
def invoice_command(month: str | None, slug: str | None, issue: bool) -> None:
    """Generate the month's invoices (idempotent: run it again and nothing doubles)."""
    try:
        with db.transaction() as session:
            results = invoices.generate_for_all(session, CLI_ACTOR, month, partner_slug=slug)
            if slug and not results:
                raise click.ClickException(f"no active partner {slug!r}")
            for invoice, created in results:
                if issue and invoice.status == "draft":
                    invoices.issue_invoice(session, CLI_ACTOR, invoice.id)
                state = "created" if created else "exists"
                click.echo(
                    f"{invoice.number} {invoice.status} ({state}) total "
                    f"{invoice.total_minor / 100:.2f} {invoice.currency}"
                )
    except DomainError as exc:
        raise click.ClickException(f"{exc.detail} {exc.extra.get('errors') or ''}") from None


@billing_cli.command("reconcile")
@click.argument("supplier_ref")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), default=None, help="exclusive")
def reconcile_command(supplier_ref: str, file: Path, first: date | None, last: date | None) -> None:
    """Match SUPPLIER's statement FILE (CSV) with our deliveries and print the report.
    SUPPLIER is its id or its name."""
    try:
        with db.transaction() as session:
            supplier = session.scalars(
                select(Supplier).where(
                    or_(Supplier.id == supplier_ref, Supplier.name == supplier_ref)
                )
            ).first()
            if supplier is None:
                raise click.ClickException(f"no supplier {supplier_ref!r}")
            rows = settlement.parse_statement(file.read_bytes())
            if first is None or last is None:
                start_day, end_day = settlement.statement_period(rows)
            else:
                start_day, end_day = first.date(), last.date()  # type: ignore[attr-defined]
            start, end = settlement.day_bounds(start_day, end_day)
            run = settlement.reconcile(session, CLI_ACTOR, supplier, rows, start, end, file.name)
            click.echo(f"reconciliation {run.id}: {run.row_count} rows, {supplier.name}")
            for kind, count in run.counts.items():
                click.echo(f"  {kind}: {count}")
            for item in run.items:
                if item.kind != "matched":
                    click.echo(
                        f"  - {item.kind} line={item.line or '-'} ref={item.reference or '-'} "
                        f"theirs={item.their_amount_minor} ours={item.our_amount_minor}"
                    )
    except DomainError as exc:
        raise click.ClickException(f"{exc.detail} {exc.extra.get('errors') or ''}") from None

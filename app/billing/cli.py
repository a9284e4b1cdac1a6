"""`flask billing …`: invoices and supplier reconciliation from the command line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import or_, select

from app.billing import invoices, reconciliation
from app.billing.documents import yuan
from app.core.errors import DomainError
from app.extensions import db
from app.partners.cli import CLI_ACTOR
from app.supply.models import Supplier

billing_cli = AppGroup("billing", help="Invoices, settlement and reconciliation.")


@contextmanager
def _refusals_as_cli_errors() -> Iterator[None]:
    """A refused operation ends the command with its reason (and field errors), exit code 1."""
    try:
        yield
    except DomainError as exc:
        raise click.ClickException(f"{exc.detail} {exc.extra.get('errors') or ''}") from None


@billing_cli.command("invoice")
@click.option("--month", default=None, help="YYYY-MM (default: each plan's previous month)")
@click.option("--partner", "slug", default=None, help="one partner's slug (default: all)")
@click.option("--issue", is_flag=True, help="also issue them (the month must be over)")
def invoice_command(month: str | None, slug: str | None, issue: bool) -> None:
    """Generate the month's invoices (idempotent: run it again and nothing doubles)."""
    with _refusals_as_cli_errors(), db.transaction() as session:
        results = invoices.generate_for_all(session, CLI_ACTOR, month, partner_slug=slug)
        if slug and not results:
            raise click.ClickException(f"no active partner {slug!r}")
        for invoice, created in results:
            if issue and invoice.status == "draft":
                invoices.issue_invoice(session, CLI_ACTOR, invoice.id)
            state = "created" if created else "exists"
            click.echo(
                f"{invoice.number} {invoice.status} ({state}) total "
                f"{yuan(invoice.total_minor)} {invoice.currency}"
            )


@billing_cli.command("reconcile")
@click.argument("supplier_ref")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), default=None, help="exclusive")
def reconcile_command(
    supplier_ref: str, file: Path, first: datetime | None, last: datetime | None
) -> None:
    """Match SUPPLIER's statement FILE (CSV) with our deliveries and print the report.
    SUPPLIER is its id or its name."""
    with _refusals_as_cli_errors(), db.transaction() as session:
        supplier = session.scalars(
            select(Supplier).where(or_(Supplier.id == supplier_ref, Supplier.name == supplier_ref))
        ).first()
        if supplier is None:
            raise click.ClickException(f"no supplier {supplier_ref!r}")
        run = reconciliation.reconcile_statement(
            session,
            CLI_ACTOR,
            supplier,
            file.read_bytes(),
            first.date() if first else None,
            last.date() if last else None,
            file.name,
        )
        click.echo(f"reconciliation {run.id}: {run.row_count} rows, {supplier.name}")
        for kind, count in run.counts.items():
            click.echo(f"  {kind}: {count}")
        for item in run.items:
            if item.kind != "matched":
                click.echo(
                    f"  - {item.kind} line={item.line or '-'} ref={item.reference or '-'} "
                    f"theirs={item.their_amount_minor} ours={item.our_amount_minor}"
                )

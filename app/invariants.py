"""`flask invariants check`: do the books balance? Every points ledger (balance = entries =
lots, no lot above its grant) and every partner account (balance = entries). Operators run it
after an incident; the tests run it after every test that commits, and the bench after a run."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from app.accounts.service import account_mismatches
from app.extensions import db
from app.members.service import ledger_mismatches

invariants_cli = AppGroup("invariants", help="Checks that the ledgers balance.")


def ledger_problems(session: Session) -> list[str]:
    return ledger_mismatches(session) + account_mismatches(session)


@invariants_cli.command("check")
def check_command() -> None:
    """Print every mismatch; exit 1 when there is one."""
    with db.transaction() as session:
        problems = ledger_problems(session)
    for line in problems:
        click.echo(line)
    click.echo(f"{len(problems)} mismatch(es)")
    if problems:
        raise SystemExit(1)

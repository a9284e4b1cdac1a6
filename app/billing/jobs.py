"""Scheduled billing work."""

from __future__ import annotations

from app.billing.invoices import generate_for_all
from app.core.audit import SYSTEM
from app.core.queue import job_app_context
from app.extensions import db


def generate_monthly_invoices() -> None:
    """Drafts for every partner's previous month (in its plan's timezone). Idempotent, so it
    can run hourly: a draft is recomputed, an issued invoice left alone."""
    with job_app_context(), db.transaction() as session:
        generate_for_all(session, SYSTEM, None)

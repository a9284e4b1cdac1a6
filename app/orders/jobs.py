"""Keeping the dashboard's day rows (app/orders/reports.py) current."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.core.db import utcnow
from app.core.queue import job_app_context
from app.extensions import db
from app.orders import reports
from app.partners.models import Partner


def refresh_dashboards(days: int = 2) -> int:
    """Recompute the last `days` day rows (today included) of every live partner, one
    transaction per partner. Returns how many partners were refreshed."""
    with job_app_context():
        with db.transaction() as session:
            partners = [
                (p.id, p.timezone)
                for p in session.scalars(select(Partner).where(Partner.status == "active"))
            ]
        now = utcnow()
        for partner_id, timezone in partners:
            today = now.astimezone(ZoneInfo(timezone)).date()
            with db.transaction() as session:
                reports.refresh_days(
                    session,
                    partner_id,
                    timezone,
                    [today - timedelta(days=n) for n in range(days)],
                    now,
                )
        return len(partners)


def refresh_recent_dashboards() -> None:
    """Every few minutes: today and yesterday."""
    refresh_dashboards(2)

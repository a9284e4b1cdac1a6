"""Scheduled supply work."""

from __future__ import annotations

from app.core.audit import SYSTEM
from app.core.queue import job_app_context
from app.extensions import db
from app.supply.suppliers import refresh_availability


def check_authorizations() -> None:
    """Products whose last valid authorization lapsed stop selling (and come back on renewal)."""
    with job_app_context(), db.transaction() as session:
        refresh_availability(session, SYSTEM)

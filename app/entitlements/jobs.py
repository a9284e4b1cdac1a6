"""Scheduled entitlement work."""

from __future__ import annotations

from app.core.db import utcnow
from app.core.queue import job_app_context
from app.entitlements.service import expire_entitlements
from app.extensions import db


def expire_due_entitlements() -> None:
    with job_app_context(), db.transaction() as session:
        expire_entitlements(session, utcnow())

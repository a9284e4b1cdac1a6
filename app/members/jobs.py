"""Scheduled points work."""

from __future__ import annotations

from app.core.queue import job_app_context
from app.extensions import db
from app.members.service import expire_points


def expire_due_points() -> None:
    with job_app_context(), db.transaction() as session:
        expire_points(session)

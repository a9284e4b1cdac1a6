"""Scheduled points work."""

from __future__ import annotations

from app.core.queue import job_app_context
from app.extensions import db
from app.members.service import expire_points


def expire_due_points() -> None:
    with job_app_context(), db.transaction() as session:
        expire_points(session)


def apply_grant_batch(batch_id: str) -> None:
    """All or nothing: the grants commit together; on any error the transaction rolls back
    and the batch is marked failed (in a transaction of its own)."""
    from flask import current_app

    from app.core.db import utcnow
    from app.core.queue import redis_connection
    from app.members import grants

    with job_app_context():
        try:
            with db.transaction() as session:
                grants.apply(session, batch_id, redis_connection(current_app), utcnow())
        except Exception as error:
            with db.transaction() as session:
                grants.mark_failed(session, batch_id, f"{type(error).__name__}: {error}")
            raise

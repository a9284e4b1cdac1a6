"""The notification pass: collect what happened, then send (every minute)."""

from __future__ import annotations

from flask import current_app

from app.core.db import utcnow
from app.core.queue import job_app_context
from app.core.vault import current_vault
from app.extensions import db
from app.notifications import service
from app.notifications.providers import sms_provider


def run() -> int:
    """Returns how many notifications were sent."""
    with job_app_context():
        now = utcnow()
        with db.transaction() as session:
            service.collect(session, now)
        with db.transaction() as session:
            return service.send_queued(session, sms_provider(current_app), current_vault(), now)

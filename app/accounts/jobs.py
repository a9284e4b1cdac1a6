"""Account work done after the order that caused it has committed."""

from __future__ import annotations

from app.accounts.alerts import send_alert
from app.core.db import utcnow
from app.core.queue import job_app_context
from app.core.vault import current_vault
from app.extensions import db


def alert_low_balance(partner_id: str) -> None:
    with job_app_context(), db.transaction() as session:
        send_alert(session, current_vault(), partner_id, utcnow())

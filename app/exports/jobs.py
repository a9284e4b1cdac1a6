"""Building exports in the background, and the schedules' periodic run."""

from __future__ import annotations

from flask import current_app

from app.core.db import utcnow
from app.core.queue import job_app_context
from app.core.vault import current_vault
from app.exports import service
from app.extensions import db


def _link_base() -> str:
    return str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/") + "/admin/exports"


def build_export(export_id: str) -> None:
    with job_app_context():
        try:
            with db.transaction() as session:
                service.build(session, current_vault(), export_id, _link_base(), utcnow())
        except Exception as error:
            with db.transaction() as session:
                service.mark_failed(session, export_id, f"{type(error).__name__}: {error}")
            raise


def run_schedules() -> int:
    with job_app_context(), db.transaction() as session:
        return service.run_schedules(session, utcnow())


def periodic() -> None:
    """Hourly (embedded thread, or `flask exports run` from cron)."""
    run_schedules()

"""RQ jobs for webhooks: dispatch the outbox, send one delivery, run the periodic retries."""

from __future__ import annotations

from app.core.db import utcnow
from app.core.queue import coalesced_job_started
from app.core.queue import job_app_context as app_context
from app.core.vault import current_vault
from app.extensions import db
from app.webhooks import service


def dispatch_events() -> None:
    """Fan out new events and send them right here (one job per commit, not one per send);
    a send that fails is retried later by `periodic`. Coalesced: one queued dispatch serves
    every commit made before it starts."""
    with app_context():
        coalesced_job_started(service.DISPATCH)
        with db.transaction() as session:
            delivery_ids = service.dispatch_events(session, utcnow(), stage_sends=False)
        for delivery_id in delivery_ids:
            send_webhook(delivery_id)


def send_webhook(delivery_id: str) -> None:
    with app_context():
        with db.transaction() as session:
            prepared = service.prepare_send(session, current_vault(), delivery_id, utcnow())
        if prepared is None:
            return
        status_code, latency_ms, error = service.post(prepared)
        with db.transaction() as session:
            service.record_attempt(session, delivery_id, status_code, latency_ms, error, utcnow())


def periodic() -> None:
    """Every few seconds (embedded thread) or minute (cron / rq cron): dispatch, retry."""
    with app_context(), db.transaction() as session:
        service.dispatch_events(session, utcnow())
        service.retry_due(session, utcnow())

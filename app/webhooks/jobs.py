"""RQ jobs for webhooks: dispatch the outbox, send one delivery, run the periodic retries."""

from __future__ import annotations

import time

from flask import current_app

from app.core.db import utcnow
from app.core.queue import coalesced_job_done
from app.core.queue import job_app_context as app_context
from app.core.vault import current_vault
from app.extensions import db
from app.webhooks import outbox, sending

DISPATCH_SPAN = 60  # seconds one dispatch job serves before handing over (job timeout: 120)


def dispatch_events() -> None:
    """Fan new events out into one send job per delivery (the dispatcher sends nothing itself,
    so no receiver can hold it). Coalesced (see `enqueue_after_commit`): while events keep
    coming, this job keeps passing over the outbox, a short pause apart, and no other dispatch
    job is enqueued; it hands over to a fresh one after DISPATCH_SPAN seconds."""
    with app_context():
        pause = current_app.config["WEBHOOK_DISPATCH_PAUSE"]
        deadline = time.monotonic() + DISPATCH_SPAN
        try:
            while _dispatch_pass() and time.monotonic() < deadline:
                time.sleep(pause)
        finally:  # a failed pass must not leave commits waiting on a flag until it expires
            coalesced_job_done(outbox.DISPATCH)
        _dispatch_pass()


def _dispatch_pass() -> int:
    with db.transaction() as session:
        return outbox.dispatch_events(session, utcnow())


def send_webhook(delivery_id: str) -> None:
    """One attempt at one delivery, with the short send timeout; a failure is retried later by
    `periodic`, with backoff."""
    with app_context():
        with db.transaction() as session:
            prepared = sending.prepare_send(session, current_vault(), delivery_id, utcnow())
        if prepared is None:
            return
        status_code, latency_ms, error = sending.post(
            prepared,
            current_app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"],
            sending.SEND_TIMEOUT_SECONDS,
        )
        with db.transaction() as session:
            sending.record_attempt(session, delivery_id, status_code, latency_ms, error, utcnow())


def periodic() -> None:
    """Every few seconds (embedded thread) or minute (cron / rq cron): dispatch, retry."""
    with app_context(), db.transaction() as session:
        outbox.dispatch_events(session, utcnow())
        sending.retry_due(session, utcnow())

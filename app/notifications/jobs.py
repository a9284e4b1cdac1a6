"""The notification pass: collect what happened, then send (every minute)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import redis
from flask import current_app

from app.core.db import utcnow
from app.core.queue import job_app_context, redis_connection
from app.core.vault import current_vault
from app.extensions import db
from app.notifications import service
from app.notifications.providers import sms_provider


def run() -> int:
    """Returns how many notifications were sent."""
    with job_app_context():
        now, cache = utcnow(), redis_connection(current_app)
        key = f"{current_app.config.get('QUEUE_PREFIX', '')}quanyi:notifications:last-pass"
        with db.transaction() as session:
            service.collect(session, now, _last_pass(cache, key))
        with contextlib.suppress(redis.RedisError):  # without it, the next pass reads the hour
            cache.set(key, now.timestamp(), ex=int(service.EVENT_WINDOW.total_seconds()))
        with db.transaction() as session:
            return service.send_queued(session, sms_provider(current_app), current_vault(), now)


def _last_pass(cache: redis.Redis, key: str) -> datetime | None:
    """When the last pass whose events were committed began (None: not known)."""
    try:
        raw = cache.get(key)
    except redis.RedisError:
        return None
    return datetime.fromtimestamp(float(raw), UTC) if raw else None

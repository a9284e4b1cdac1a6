"""The notification pass (every minute) on PostgreSQL, with an hour of busy trade behind it:
EVENTS `entitlement.created` events spread over the last hour, every one told already, and
as many active entitlements' worth of notifications. Measured: the pass as it runs every
minute (reading from where the last one began, less LATE_COMMIT) against the pass that knows
of no last one (a restart: the whole hour, the cost every pass had before the cursor). The
goal: a minute's pass stays a small fraction of the hour's, so it keeps up however busy the
hour was.

    TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/notifications_bench.py

Uses its own schema (`bench_notifications`), built by the Alembic migrations and dropped
afterwards.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import normalize_database_url  # noqa: E402
from app.core.db import utcnow  # noqa: E402
from app.core.ids import id_floor, new_id  # noqa: E402
from app.extensions import db  # noqa: E402
from app.notifications import service  # noqa: E402
from app.notifications.models import Notification  # noqa: E402
from app.webhooks.models import Event  # noqa: E402
from bench.own_schema import app_on_schema, drop_schema  # noqa: E402
from bench.portal_bench import _members, _partner  # noqa: E402

SCHEMA = "bench_notifications"
EVENTS = int(os.environ.get("BENCH_NOTIFY_EVENTS", "60000"))  # ~17 card-key orders a second
ROUNDS = 7


def _seed(session: Any, partner_id: str, member_id: str) -> None:
    now = utcnow()
    step = timedelta(hours=1) / EVENTS
    events, notes = [], []
    for n in range(EVENTS):
        at = now - timedelta(hours=1) + step * n
        entitlement_id = id_floor("ent", at)[:-16] + secrets.token_hex(8)
        events.append(
            {
                "id": id_floor("evt", at)[:-16] + secrets.token_hex(8),
                "type": "entitlement.created",
                "partner_id": partner_id,
                "data": {"entitlement_id": entitlement_id},
                "created_at": at,
                "dispatched_at": at,
                "order_id": None,
            }
        )
        notes.append(
            {
                "id": new_id("ntf"),
                "partner_id": partner_id,
                "member_id": member_id,
                "kind": "code_delivered",
                "subject_id": entitlement_id,
                "order_id": None,
                "channel": "sms",
                "language": "zh_CN",
                "body": "told",
                "status": "sent",
                "attempts": 1,
                "created_at": at,
                "sent_at": at,
            }
        )
    for start in range(0, EVENTS, 10_000):
        session.execute(insert(Event), events[start : start + 10_000])
        session.execute(insert(Notification), notes[start : start + 10_000])
    session.commit()
    session.execute(text("ANALYZE"))


def _timed(session: Any, last_pass: Any) -> float:
    """Median seconds of a collect pass (rolled back: every round sees the same rows)."""
    spent = []
    for _ in range(ROUNDS):
        now = utcnow()
        started = time.perf_counter()
        made = service.collect(session, now, None if last_pass is None else now - last_pass)
        spent.append(time.perf_counter() - started)
        session.rollback()
        assert made == 0, made  # everything was told already
    return statistics.median(spent)


def main() -> None:
    url = normalize_database_url(
        os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    )
    app = app_on_schema(url, SCHEMA)
    try:
        with app.app_context():
            session = db.session()
            partner = _partner(session)
            session.commit()
            member_id = new_id("mem")
            _members(session, partner.id, 1, member_id)
            _seed(session, partner.id, member_id)
            minute = _timed(session, timedelta(minutes=1))
            hour = _timed(session, None)
    finally:
        drop_schema(url, SCHEMA)
    result = {
        "when": utcnow().isoformat(timespec="seconds"),
        "events_in_the_hour": EVENTS,
        "pass_every_minute_ms": round(minute * 1000, 1),
        "pass_reading_the_hour_ms": round(hour * 1000, 1),
        "minute / hour": round(minute / hour, 3),
        "goal": "minute / hour < 0.2 (the minute's events plus LATE_COMMIT are 1/10 of the hour)",
        "met": minute / hour < 0.2,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Admin portal benchmarks on PostgreSQL, each against a floor measured in the same run:

- the bulk grant rate (rows/s applying a 100,000-row file, all or nothing in one
  transaction), against parsing the same file and inserting as many ledger rows with one Core
  executemany;
- the partner dashboard's latency (p50/p95 over 60 renders of the 30-day view, through the
  whole Flask stack with a staff session) with 1,000,000 orders of the partner spread over a
  year, against the account page of the same portal (the floor: session, layout, one query);
  and, for the record, what the same 30 days cost computed live from the orders.

    TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/portal_bench.py

Uses its own schema (`bench_portal`), built by the Alembic migrations and dropped afterwards.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fakeredis
from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.auth import staff as staff_service  # noqa: E402
from app.auth.web import session_policy  # noqa: E402
from app.config import normalize_database_url  # noqa: E402
from app.core.audit import Actor  # noqa: E402
from app.core.db import utcnow  # noqa: E402
from app.core.ids import id_floor, new_id  # noqa: E402
from app.core.money import Money  # noqa: E402
from app.extensions import db  # noqa: E402
from app.members import grants  # noqa: E402
from app.members.models import Member, PointsEntry  # noqa: E402
from app.orders import reports  # noqa: E402
from app.orders.models import Order  # noqa: E402
from app.partners.service import create_partner  # noqa: E402
from bench.own_schema import app_on_schema, drop_schema  # noqa: E402

ACTOR = Actor("cli", "bench")
SCHEMA = "bench_portal"


def _partner(session, slug: str = "bench-employer"):  # type: ignore[no-untyped-def]
    return create_partner(
        session,
        ACTOR,
        {
            "slug": slug,
            "name": "Bench Employer",
            "kind": "employer",
            "status": "active",
            "branding": {
                "display_name": "B",
                "primary_color": "#000000",
                "accent_color": "#ffffff",
            },
            "points": {"unit_name": "pts", "rate": {"points": 1, "value": Money(1)}},
            "timezone": "Asia/Shanghai",
        },
    )


def _members(session, partner_id: str, count: int, first_id: str | None = None) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    session.execute(
        insert(Member),
        [
            {
                "id": first_id if first_id and n == 0 else new_id("mem"),
                "partner_id": partner_id,
                "external_id": f"emp-{n}",
                "status": "active",
                "extra": {},
                "points_balance": 0,
                "created_at": now,
                "updated_at": now,
            }
            for n in range(count)
        ],
    )
    session.commit()


def _file(rows: int, members: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(grants.COLUMNS)
    for n in range(rows):
        writer.writerow((f"emp-{n % members}", 100, "2027-12-31", "2027 allowance"))
    return out.getvalue().encode()


def _orders(session, partner_id: str, member_id: str, count: int, days: int) -> None:  # type: ignore[no-untyped-def]
    """`count` orders spread evenly over the last `days` days, with time-ordered ids as the
    app makes them; one in twenty failed."""
    import secrets
    from datetime import timedelta

    now = utcnow()
    step = timedelta(days=days) / count
    chunk: list[dict[str, Any]] = []
    for n in range(count):
        at = now - timedelta(days=days) + step * n
        chunk.append(
            {
                "id": id_floor("ord", at)[:-16] + secrets.token_hex(8),
                "partner_id": partner_id,
                "member_id": member_id,
                "status": "failed" if n % 20 == 0 else "fulfilled",
                "points_total": 1_000,
                "cash_total_minor": 0,
                "currency": "CNY",
                "wholesale_total_minor": 900,
                "quota_usage": {},
                "metadata": {},
                "created_at": at,
                "updated_at": at,
            }
        )
        if len(chunk) == 20_000:
            session.execute(insert(Order.metadata.tables["orders"]), chunk)
            chunk = []
    if chunk:
        session.execute(insert(Order.metadata.tables["orders"]), chunk)
    session.commit()
    session.execute(text("ANALYZE orders"))
    session.commit()


def _percentiles(timings: list[float]) -> dict[str, float]:
    ordered = sorted(timings)
    return {
        "p50_ms": round(ordered[len(ordered) // 2], 1),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 1),
    }


def bench_dashboard(app, count: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from app.core.queue import redis_connection

    with app.app_context():
        session = db.session()
        partner = _partner(session, "bench-bank")
        session.commit()
        member_id = new_id("mem")
        _members(session, partner.id, 1, member_id)
        started = time.perf_counter()
        _orders(session, partner.id, member_id, count, 365)
        seeded = time.perf_counter() - started
        today = utcnow().astimezone(ZoneInfo(partner.timezone)).date()
        days = [today - timedelta(days=n) for n in range(30)]
        started = time.perf_counter()
        reports.refresh_days(session, partner.id, partner.timezone, days, utcnow())
        session.commit()
        refresh_seconds = time.perf_counter() - started
        started = time.perf_counter()
        for day in days:
            reports.compute_day(session, partner.id, day, partner.timezone)
        live_30_days_ms = (time.perf_counter() - started) * 1000
        staff = staff_service.create_staff(
            session, ACTOR, email="finance@bench.example", name="F", role="finance",
            partner_id=partner.id, password="bench-password-123",
        )  # fmt: skip
        session.commit()
        signed = staff_service.sign_in(
            session, redis_connection(app), staff.email, "bench-password-123",
            ip="127.0.0.1", user_agent="bench", now=utcnow(), policy=session_policy(),
        )  # fmt: skip
        assert signed is not None
        session.commit()
        db.session.remove()
    http = app.test_client()
    http.set_cookie(staff_service.SESSION_COOKIE, signed.token, path="/admin")

    def timed(path: str, rounds: int = 60) -> list[float]:
        timings = []
        for _ in range(rounds):
            started = time.perf_counter()
            answer = http.get(path)
            timings.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, (path, answer.status_code)
        return timings

    timed("/admin/?period=30d", 5)  # warm
    dashboard = _percentiles(timed("/admin/?period=30d"))
    floor = _percentiles(timed("/admin/account"))
    return {
        "orders": count,
        "seed_seconds": round(seeded, 1),
        "refresh_30_day_rows_seconds": round(refresh_seconds, 2),
        "dashboard_30d": dashboard,
        "floor_account_page": floor,
        "dashboard_p95_vs_floor_p95": round(dashboard["p95_ms"] / floor["p95_ms"], 2),
        "live_30_days_without_rows_ms": round(live_30_days_ms, 1),
        "goal_p95_ms": 300,
    }


def main() -> None:
    url = normalize_database_url(
        os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    )
    rows = int(os.environ.get("BENCH_GRANT_ROWS", "100000"))
    members = int(os.environ.get("BENCH_GRANT_MEMBERS", "10000"))
    app = app_on_schema(url, SCHEMA)
    raw = _file(rows, members)
    result: dict[str, Any] = {"rows": rows, "members": members}
    with app.app_context():
        session = db.session()
        partner = _partner(session)
        session.commit()
        _members(session, partner.id, members)

        started = time.perf_counter()
        grants.parse(raw, "Asia/Shanghai")
        parse_rate = rows / (time.perf_counter() - started)

        started = time.perf_counter()
        batch, _ = grants.upload(
            session, ACTOR, partner.id, "bench.csv", raw,
            timezone="Asia/Shanghai", approval_threshold=10**12, now=utcnow(),
        )  # fmt: skip
        session.commit()
        upload_seconds = time.perf_counter() - started
        grants.start(session, ACTOR, partner.id, batch.id)
        session.commit()

        started = time.perf_counter()
        grants.apply(session, batch.id, fakeredis.FakeRedis(), utcnow())
        session.commit()
        apply_rate = rows / (time.perf_counter() - started)

        # the floor: as many ledger rows, one Core executemany, no rules at all
        member_id = session.scalar(text("SELECT id FROM members LIMIT 1"))
        now = utcnow()
        started = time.perf_counter()
        session.execute(
            insert(PointsEntry),
            [
                {
                    "id": new_id("pte"),
                    "partner_id": partner.id,
                    "member_id": member_id,
                    "kind": "grant",
                    "delta": 100,
                    "balance_after": 100,
                    "lots": [],
                    "created_at": now,
                }
                for _ in range(rows)
            ],
        )
        session.commit()
        insert_rate = rows / (time.perf_counter() - started)
        db.session.remove()
    assert db.engine is not None
    db.engine.dispose()
    result["dashboard"] = bench_dashboard(
        app, int(os.environ.get("BENCH_DASHBOARD_ORDERS", "1000000"))
    )
    result.update(
        {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
            "upload_and_validate_seconds": round(upload_seconds, 2),
            "apply_rows_per_second": round(apply_rate),
            "floor_parse_rows_per_second": round(parse_rate),
            "floor_insert_rows_per_second": round(insert_rate),
            "apply_vs_insert_floor": round(apply_rate / insert_rate, 3),
        }
    )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"portal-{result['when'].replace(':', '')}.json").write_text(
        json.dumps(result, indent=2)
    )
    print(json.dumps(result, indent=2))
    drop_schema(url, SCHEMA)


if __name__ == "__main__":
    main()

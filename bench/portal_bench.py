"""Admin portal benchmarks on PostgreSQL: the bulk grant rate (rows/s applying a 100,000-row
file, all or nothing in one transaction), against floors measured in the same run: parsing the
same file, and inserting as many ledger rows with one Core executemany.

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
from alembic import command
from sqlalchemy import create_engine, insert, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.config import normalize_database_url  # noqa: E402
from app.core.audit import Actor  # noqa: E402
from app.core.cli import alembic_config  # noqa: E402
from app.core.db import utcnow  # noqa: E402
from app.core.ids import new_id  # noqa: E402
from app.core.money import Money  # noqa: E402
from app.extensions import db  # noqa: E402
from app.members import grants  # noqa: E402
from app.members.models import Member, PointsEntry  # noqa: E402
from app.partners.service import create_partner  # noqa: E402

ACTOR = Actor("cli", "bench")
SCHEMA = "bench_portal"


def _setup_app(url: str):  # type: ignore[no-untyped-def]
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    admin.dispose()
    scoped = url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{SCHEMA}"
    app = create_app({"DATABASE_URL": scoped, "REDIS_URL": None, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        command.upgrade(alembic_config(scoped), "head")
    return app


def _partner(session):  # type: ignore[no-untyped-def]
    return create_partner(
        session,
        ACTOR,
        {
            "slug": "bench-employer",
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


def _members(session, partner_id: str, count: int) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    session.execute(
        insert(Member),
        [
            {
                "id": new_id("mem"),
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


def main() -> None:
    url = normalize_database_url(
        os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    )
    rows = int(os.environ.get("BENCH_GRANT_ROWS", "100000"))
    members = int(os.environ.get("BENCH_GRANT_MEMBERS", "10000"))
    app = _setup_app(url)
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
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))


if __name__ == "__main__":
    main()

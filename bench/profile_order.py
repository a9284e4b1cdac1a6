"""Profile `POST /api/v1/orders` (one card key) in-process on the benchmark dataset:
SQL statements per order (each one printed once), then a pyinstrument profile of N orders;
with `--catalog`, the same for `GET /api/v1/catalog?limit=20` (10,000 listings).

    .venv/bin/python bench/profile_order.py [N] [--catalog]

Uses TEST_DATABASE_URL / TEST_REDIS_URL like the harness, and its `quanyi_bench` database
(recreated and seeded here)."""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import QUICK, _database_urls, _recreate_database, seed  # noqa: E402


def main() -> None:
    numbers = [a for a in sys.argv[1:] if a.isdigit()]
    orders = int(numbers[0]) if numbers else 300
    catalog = "--catalog" in sys.argv
    admin_url, db_url = _database_urls()
    _recreate_database(admin_url)
    ids = seed(db_url, QUICK)
    os.environ.update(
        DATABASE_URL=db_url,
        REDIS_URL=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        QUANYI_RATE_LIMIT="10000000 per minute",
        LOG_LEVEL="WARNING",
    )
    from pyinstrument import Profiler
    from sqlalchemy import event, text

    from app import create_app
    from app.extensions import db

    app = create_app()
    with app.app_context():
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:  # type: ignore[union-attr]
            conn.execute(text("ANALYZE"))
    http = app.test_client()
    token = http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(ids["client_id"], ids["client_secret"]),
    ).get_json()["access_token"]
    listing = ids["listings"]["order"]

    def order(n: int) -> None:
        if catalog:
            page = http.get(
                "/api/v1/catalog?limit=20", headers={"Authorization": f"Bearer {token}"}
            )
            assert page.status_code == 200, page.get_json()
            return
        response = http.post(
            "/api/v1/orders",
            json={
                "member": f"m{n:06d}",
                "items": [{"listing": listing, "quantity": 1}],
                "payment": {"points": 1000},
            },
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"prof-{n}"},
        )
        assert response.status_code == 201, response.get_json()

    statements: list[str] = []

    def count(conn, cursor, statement, *_):  # type: ignore[no-untyped-def]
        statements.append(" ".join(statement.split())[:160])

    for n in range(20):  # warm caches
        order(n)
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)
        order(20)
        event.remove(db.engine, "before_cursor_execute", count)
    print(f"{len(statements)} statements for one {'catalog page' if catalog else 'order'}:")
    for statement, times in Counter(statements).items():
        print(f"  {times} × {statement}")
    profiler = Profiler(interval=0.0005)
    t0 = time.perf_counter()
    profiler.start()
    for n in range(21, 21 + orders):
        order(n)
    profiler.stop()
    elapsed = time.perf_counter() - t0
    print(f"{orders} requests in {elapsed:.2f}s: {orders / elapsed:.1f}/s in one thread")
    print(profiler.output_text(unicode=True, color=False, show_all=False))


if __name__ == "__main__":
    main()

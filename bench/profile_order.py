"""Profile `POST /api/v1/orders` (one card key) in-process on the benchmark dataset:
SQL statements per order (each one printed once), then a pyinstrument profile of N orders;
with `--catalog`, the same for `GET /api/v1/catalog?limit=20` (10,000 listings). With
`--sections`, no profiler: the CPU time (this thread's, so waits on PostgreSQL and Redis are
left out) of each of the order's parts (`SECTIONS`), over N orders (or catalog pages) and
then over N floor requests (the harness's), twice each. A profiler's per-call cost falls on the
call-heavy parts and skews their shares; these figures are what the parts cost as they run.

    .venv/bin/python bench/profile_order.py [N] [--catalog | --sections]

Uses TEST_DATABASE_URL / TEST_REDIS_URL like the harness, and its `quanyi_bench` database
(recreated and seeded here)."""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    QUICK,
    _database_urls,
    _recreate_database,
    floor_request,
    seed,
)

# (module, attribute as the caller looks it up, label): the order's parts, timed where they
# are called from. The floor runs the first and the last too.
SECTIONS = (
    ("app.auth.service", "find_token", "token check (first statement)"),
    ("app.core.idempotency", "lock_and_find", "idempotency lock + lookup"),
    ("app.orders.schemas", "OrderCreateSchema.load", "request body load"),
    ("app.orders.checkout", "resolve_listings", "listings resolved"),
    ("app.orders.checkout", "reserve_card_keys", "card keys claimed"),
    ("app.orders.checkout", "find_member", "member locked"),
    ("app.orders.checkout", "quote", "quote"),
    ("app.orders.checkout", "spend_points", "points spent"),
    ("app.orders.checkout", "transition", "status, audit row, events"),
    ("app.orders.checkout", "write_items", "items, deliveries, entitlements"),
    ("app.orders.checkout", "charge_order", "partner charge"),
    ("app.orders.schemas", "OrderSchema.dump", "answer dumped"),
    ("app.core.idempotency", "_store", "idempotency record written"),
    ("sqlalchemy.orm.session", "Session.commit", "commit (+ after-commit enqueue)"),
)


def time_sections(spent: dict[str, float]) -> None:
    """Wrap each of SECTIONS so that its thread CPU time adds up in `spent` (a section called
    inside another counts for the outer one only)."""
    inside: list[str] = []
    for module_name, attribute, label in SECTIONS:
        owner: Any = importlib.import_module(module_name)
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        setattr(owner, name, _timed(getattr(owner, name), label, spent, inside))


def _timed(
    func: Callable[..., Any], label: str, spent: dict[str, float], inside: list[str]
) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        if inside:
            return func(*args, **kwargs)
        inside.append(label)
        started = time.thread_time()
        try:
            return func(*args, **kwargs)
        finally:
            spent[label] += time.thread_time() - started
            inside.pop()

    return timed


def report_sections(
    label: str, requests: int, run: Callable[[int], None], spent: dict[str, float]
) -> None:
    for attempt in range(2):
        spent.clear()
        started = time.thread_time()
        for n in range(requests):
            run(requests * (attempt + 1) + n)
        total = (time.thread_time() - started) / requests * 1e6
        print(f"{label}, pass {attempt + 1}: {total:.0f} µs of CPU a request (client included)")
        for section, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
            print(f"  {section:34s} {seconds / requests * 1e6:6.0f} µs")


def main() -> None:
    numbers = [a for a in sys.argv[1:] if a.isdigit()]
    orders = int(numbers[0]) if numbers else 300
    catalog = "--catalog" in sys.argv
    sections = "--sections" in sys.argv
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
    with (
        app.app_context(),
        db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn,  # type: ignore[union-attr]
    ):
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

    def floor(_n: int) -> None:
        method, path, _ = floor_request()
        answer = http.open(path, method=method, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.get_json()

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
    if sections:
        spent: dict[str, float] = defaultdict(float)
        time_sections(spent)
        report_sections("catalog" if catalog else "order_card_key", orders, order, spent)
        report_sections("floor", orders, floor, spent)
        return
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

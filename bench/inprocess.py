"""The floor request and a card-key order through Flask's test client, in this process: what
the in-process measuring tools (`count_instructions.py`, `compare_python.py`) run."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from typing import Any

WARM_UP = 10


def seeded_database() -> dict[str, Any]:
    """Recreate and seed the benchmark database (the quick profile's data), analyze it, and set
    this process's environment (inherited by its children) to run the app over it without
    rate limits. Returns the seeded ids."""
    from sqlalchemy import create_engine, text

    from bench.harness import QUICK, _database_urls, _recreate_database, seed

    admin_url, db_url = _database_urls()
    _recreate_database(admin_url)
    ids = seed(db_url, QUICK)
    engine = create_engine(db_url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    os.environ.update(
        DATABASE_URL=db_url,
        REDIS_URL=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        QUANYI_RATE_LIMIT="10000000 per minute",
        LOG_LEVEL="WARNING",
    )
    return ids


def in_process_requests(
    ids: dict[str, Any], first_member: int
) -> tuple[Callable[[], None], Callable[[], None]]:
    """(floor, order) on a new app over the seeded benchmark database (DATABASE_URL set by the
    caller); each order is a different member's, from `first_member` on, with its own key.
    Both are warmed up WARM_UP times first."""
    from app import create_app

    http = create_app().test_client()
    token = http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(ids["client_id"], ids["client_secret"]),
    ).get_json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    members = itertools.count(first_member)

    def floor() -> None:
        assert http.get("/api/v1/partner", headers=auth).status_code == 200

    def order() -> None:
        n = next(members)
        response = http.post(
            "/api/v1/orders",
            json={
                "member": f"m{n:06d}",
                "items": [{"listing": ids["listings"]["order"], "quantity": 1}],
                "payment": {"points": 1000},
            },
            headers={**auth, "Idempotency-Key": f"inproc-{os.getpid()}-{n}"},
        )
        assert response.status_code == 201, response.get_json()

    for _ in range(WARM_UP):
        floor()
        order()
    return floor, order

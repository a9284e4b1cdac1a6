"""Instructions per request, counted by valgrind (callgrind): the one measure here that does
not drift with the machine (the HTTP benchmarks' req/s swing by tens of percent from one
minute to the next), so a change to the order path can be judged to a fraction of a percent.

    .venv/bin/python bench/count_instructions.py [N]

Seeds the `quanyi_bench` database (TEST_DATABASE_URL / TEST_REDIS_URL, as the harness), then
runs three processes under callgrind, in-process through Flask's test client: a baseline
(start-up, token, warm-up requests), the same plus N floor requests, and the same plus N
card-key orders. The differences over N are the Python (and C extension) instructions of one
request of each kind; PostgreSQL and Redis run outside and are not counted. Takes ~4 minutes
(the three processes share the 2 cores).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WARM_UP = 10


def _requests(ids_file: str, floors: int, orders: int, first_member: int) -> None:
    """The measured process: start-up, token, warm-up, then `floors` and `orders` requests."""
    ids = json.loads(Path(ids_file).read_text())
    from app import create_app

    http = create_app().test_client()
    token = http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(ids["client_id"], ids["client_secret"]),
    ).get_json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    members = iter(range(first_member, first_member + WARM_UP + orders))

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
            headers={**auth, "Idempotency-Key": f"count-{os.getpid()}-{n}"},
        )
        assert response.status_code == 201, response.get_json()

    for _ in range(WARM_UP):
        floor()
        order()
    for _ in range(floors):
        floor()
    for _ in range(orders):
        order()


def _counted(ids_file: str, floors: int, orders: int, first_member: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/callgrind.out",
                sys.executable,
                __file__,
                "--child",
                ids_file,
                str(floors),
                str(orders),
                str(first_member),
            ],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
    return int(re.search(r"Collected : (\d+)", out.stderr).group(1))  # type: ignore[union-attr]


def main() -> None:
    from bench.harness import QUICK, _database_urls, _recreate_database, seed

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    admin_url, db_url = _database_urls()
    _recreate_database(admin_url)
    ids = seed(db_url, QUICK)
    from sqlalchemy import create_engine, text

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
    with tempfile.NamedTemporaryFile("w", suffix=".json") as ids_file:
        json.dump(ids, ids_file)
        ids_file.flush()
        # distinct members per process: each has points for a few orders only
        runs = [(0, 0, 0), (n, 0, 1000), (0, n, 2000)]
        with ThreadPoolExecutor(len(runs)) as pool:
            base, floors, orders = pool.map(lambda r: _counted(ids_file.name, *r), runs)
    floor, order = (floors - base) / n, (orders - base) / n
    print(f"instructions per request (callgrind, {n} each, in-process):")
    print(f"  floor  (GET /api/v1/partner): {floor / 1e6:.2f} M")
    print(f"  order_card_key (POST /api/v1/orders): {order / 1e6:.2f} M")
    print(f"  floor / order: {floor / order:.3f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        ids_file, floors, orders, first = sys.argv[2:6]
        _requests(ids_file, int(floors), int(orders), int(first))
    else:
        main()

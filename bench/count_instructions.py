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
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.inprocess import in_process_requests, seeded_database  # noqa: E402


def _requests(ids_file: str, floors: int, orders: int, first_member: int) -> None:
    """The measured process: start-up, token, warm-up, then `floors` and `orders` requests."""
    floor, order = in_process_requests(json.loads(Path(ids_file).read_text()), first_member)
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
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    ids = seeded_database()
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

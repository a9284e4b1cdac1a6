"""Why the harness's closed-loop clients join 10 ms apart: floor steps with all clients
starting at once against steps with them joining apart, in alternation, each after the stack
sat idle (as it does after a pgbench step), with the busiest gunicorn process's share of the
server's CPU (0.5 is even with two workers; 1.0 is one worker serving everything on one core).

    .venv/bin/python bench/connection_spread.py [PAIRS]

Uses TEST_DATABASE_URL / TEST_REDIS_URL and BENCH_WORKERS / BENCH_THREADS like the harness,
and its `quanyi_bench` database (recreated and seeded here)."""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    JOIN_GAP_SECONDS,
    QUICK,
    Stack,
    _database_urls,
    _execute,
    _recreate_database,
    closed_loop,
    floor_request,
    seed,
)

IDLE_SECONDS = 1.5
STEP_SECONDS = 3.0


def main() -> None:
    pairs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    admin_url, db_url = _database_urls()
    _recreate_database(admin_url)
    ids = seed(db_url, QUICK)
    _execute(db_url, "ANALYZE")
    stack = Stack(
        db_url,
        os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        int(os.environ.get("BENCH_WORKERS", "2")),
        int(os.environ.get("BENCH_THREADS", "8")),
    )
    stack.start()
    throughput: dict[float, list[float]] = {0.0: [], JOIN_GAP_SECONDS: []}
    try:
        token = stack.token(ids["client_id"], ids["client_secret"])
        for _ in range(pairs):
            line = []
            for gap, runs in throughput.items():
                time.sleep(IDLE_SECONDS)
                run = asyncio.run(
                    closed_loop(stack.base, token, floor_request, 16, STEP_SECONDS, join_gap=gap)
                )
                runs.append(run.ok_throughput)
                line.append(
                    f"join gap {gap * 1000:.0f} ms: {run.ok_throughput:6.1f} req/s, busiest "
                    f"process {run.cpu.get('busiest_server_process_share')}"
                )
            print(" | ".join(line), flush=True)
    finally:
        stack.stop()
    for gap, runs in throughput.items():
        print(
            f"join gap {gap * 1000:.0f} ms: median {statistics.median(runs):.1f} req/s, "
            f"range {min(runs):.1f}–{max(runs):.1f}"
        )


if __name__ == "__main__":
    main()

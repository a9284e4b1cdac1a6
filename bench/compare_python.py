"""CPU per request of the same code on two CPython builds, measured side by side: the build of
the interpreter is a production choice (a pyenv build is compiled without PGO and LTO, a
distribution's or the official Docker image's with both), and this machine's speed drifts too
much between runs to compare two runs.

    .venv/bin/python bench/compare_python.py OTHER_PYTHON [N] [ROUNDS]

OTHER_PYTHON is an interpreter with the project installed, e.g. Debian's:
`/usr/bin/python3 -m venv /tmp/venv-deb && /tmp/venv-deb/bin/pip install -e '.[dev]'`.
Seeds the `quanyi_bench` database as the other in-process tools do, then runs one child per
interpreter at once (one per core): each warms up, waits for the other, then measures ROUNDS
rounds of N card-key orders and N floor requests, its thread's CPU time a request (Flask's
test client included; PostgreSQL and Redis are other processes, not counted). Both children
see the machine's drift alike; the medians of the rounds are compared.
"""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.inprocess import in_process_requests, seeded_database  # noqa: E402


def _child(ids_file: str, first_member: int, n: int, rounds: int, barrier: str) -> None:
    floor, order = in_process_requests(json.loads(Path(ids_file).read_text()), first_member)
    Path(barrier, str(first_member)).touch()
    while len(list(Path(barrier).iterdir())) < 2:
        time.sleep(0.01)
    measured = []
    for _ in range(rounds):
        started = time.thread_time()
        for _ in range(n):
            order()
        ordered = time.thread_time()
        for _ in range(n):
            floor()
        measured.append(
            {
                "order_us": (ordered - started) / n * 1e6,
                "floor_us": (time.thread_time() - ordered) / n * 1e6,
            }
        )
    print(
        json.dumps(
            {"python": f"{platform.python_version()} ({sys.executable})", "rounds": measured}
        )
    )


def main() -> None:
    other = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 150
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    ids = seeded_database()
    with tempfile.TemporaryDirectory() as tmp:
        ids_file = Path(tmp, "ids.json")
        ids_file.write_text(json.dumps(ids))
        barrier = Path(tmp, "barrier")
        barrier.mkdir()
        children = [
            subprocess.Popen(
                [
                    python,
                    __file__,
                    "--child",
                    str(ids_file),
                    str(first),
                    str(n),
                    str(rounds),
                    str(barrier),
                ],
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            for python, first in ((sys.executable, 0), (other, 1500))
        ]
        results = [json.loads(child.communicate()[0]) for child in children]
    medians = [
        {
            key: statistics.median(r[key] for r in result["rounds"])
            for key in ("order_us", "floor_us")
        }
        for result in results
    ]
    print(f"CPU a request, median of {rounds} rounds of {n}, both interpreters at once:")
    for result, median in zip(results, medians, strict=True):
        rounds_text = ", ".join(
            f"{r['order_us']:.0f}/{r['floor_us']:.0f}" for r in result["rounds"]
        )
        print(
            f"  {result['python']}: order {median['order_us']:.0f} µs, floor "
            f"{median['floor_us']:.0f} µs (rounds, order/floor: {rounds_text})"
        )
    for key in ("order_us", "floor_us"):
        print(f"  {key[:-3]}: other / this = {medians[1][key] / medians[0][key]:.3f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        ids_file, first, n, rounds, barrier = sys.argv[2:7]
        _child(ids_file, int(first), int(n), int(rounds), barrier)
    else:
        main()

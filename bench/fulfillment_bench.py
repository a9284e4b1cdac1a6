"""Direct recharge end to end on the production stack: order → `fulfilled` latency with a
simulated supplier answering after 200 ms (over HTTP, with callbacks), 3 rq workers; how many
signed webhook deliveries per second reach a receiver; and, meanwhile, another partner's
endpoint that answers after 12 s: the first partner's webhooks must not wait for it (goal:
their event → delivered p99 under 5 s).

    .venv/bin/python bench/fulfillment_bench.py [--orders N] [--rate R]

Uses TEST_DATABASE_URL / TEST_REDIS_URL like bench/harness.py (database `quanyi_bench`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    Stack,
    _database_urls,
    _free_port,
    _recreate_database,
    seed_partner,
)

# a slow receiver holds one worker at most (one attempt in flight per endpoint): the bench runs
# one worker more than the two the steady load needs
RQ_WORKERS = 3
SLOW_RECEIVER_SECONDS = 12


class Receiver:
    """Counts webhook deliveries (order.fulfilled carries the order id); `delay` seconds
    before answering each."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.arrivals: list[float] = []
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        self.arrivals.append(time.perf_counter())
        time.sleep(self.delay)
        return Response("ok")(environ, start_response)


def seed(
    db_url: str, sim_url: str, members: int, hook_url: str, slow_hook_url: str, slow_events: int
) -> dict[str, str]:
    from alembic import command

    from app import create_app
    from app.core.audit import Actor
    from app.core.cli import alembic_config
    from app.core.money import Money
    from app.core.vault import current_vault
    from app.extensions import db
    from app.members.service import MemberChanges, grant_points, upsert_member
    from app.partners.listings import ListingTerms, create_listing
    from app.supply import products
    from app.webhooks.endpoints import create_endpoint
    from app.webhooks.outbox import record_event

    actor = Actor("cli", "bench")
    app = create_app({"DATABASE_URL": db_url, "REDIS_URL": None, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        command.upgrade(alembic_config(db_url), "head")
        session = db.session()
        partner, client, supplier = seed_partner(
            session,
            actor,
            "bench-dr",
            "carrier",
            {
                "name": "Sim",
                "api_base_url": sim_url,
                "credentials": {"merchant": "quanyi-demo", "secret": "demo-secret"},
            },
        )
        product = products.create_product(
            session,
            actor,
            {
                "brand": "Bench",
                "name": "DR",
                "category": "music",
                "fulfillment_type": "direct_recharge",
                "face_value": Money(1500),
                "status": "active",
                "recharge_account_kind": "phone",
            },
        )
        products.create_offer(
            session,
            actor,
            product,
            supplier,
            {"supplier_sku": "DR", "cost": Money(1200), "priority": 1},
        )
        listing = create_listing(
            session,
            actor,
            partner.id,
            product.id,
            ListingTerms.of({"price_points": 100, "wholesale_minor": 1300}),
        )
        for i in range(members):
            member, _ = upsert_member(
                session,
                actor,
                partner.id,
                f"d{i:05d}",
                MemberChanges.of({"phone": "13912345678"}),
                current_vault(),
            )
            grant_points(session, member, 10_000, "bench")
        create_endpoint(
            session, actor, current_vault(), partner.id, hook_url, [], allow_private=True
        )
        slow, _, _ = seed_partner(
            session, actor, "bench-slow-hook", "bank", {"name": "Sim (slow partner)"}
        )
        create_endpoint(
            session, actor, current_vault(), slow.id, slow_hook_url, [], allow_private=True
        )
        for i in range(slow_events):  # waiting to go out when the run starts
            record_event(session, "stock.low", {"n": i}, slow.id)
        session.commit()
        ids = {
            "client_id": client.client.id,
            "secret": client.secret,
            "listing": listing.id,
            "partner": partner.id,
        }
        db.session.remove()
        db.engine.dispose()  # type: ignore[union-attr]
    return ids


async def place_orders(base: str, token: str, listing: str, count: int, rate: float) -> list[str]:
    ids: list[str] = []
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as client:

        async def one(i: int) -> None:
            response = await client.post(
                "/api/v1/orders",
                headers={"Idempotency-Key": f"dr-{i}"},
                json={
                    "member": f"d{i:05d}",
                    "items": [{"listing": listing, "quantity": 1}],
                    "payment": {"points": 100},
                },
            )
            if response.status_code == 201:
                ids.append(response.json()["id"])

        tasks = []
        started = time.perf_counter()
        for i in range(count):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument(
        "--slow-events", type=int, default=30, help="events for the slow endpoint (0: none)"
    )
    args = parser.parse_args()
    admin_url, db_url = _database_urls()
    redis_url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    _recreate_database(admin_url)
    sim_port = _free_port()
    sim = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "flask"),
            "supplier-sim",
            "--port",
            str(sim_port),
            "--latency-ms",
            "200",
        ],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": db_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    receiver, slow_receiver = Receiver(), Receiver(delay=SLOW_RECEIVER_SECONDS)
    ids = seed(
        db_url,
        f"http://127.0.0.1:{sim_port}",
        args.orders,
        receiver.url,
        slow_receiver.url,
        args.slow_events,
    )
    stack = Stack(db_url, redis_url, workers=2, threads=8, rq_workers=RQ_WORKERS)
    stack.start()
    try:
        token = stack.token(ids["client_id"], ids["secret"])
        order_ids = asyncio.run(
            place_orders(stack.base, token, ids["listing"], args.orders, args.rate)
        )
        deadline = time.monotonic() + 120
        from sqlalchemy import create_engine, text

        engine = create_engine(db_url)
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                left = conn.execute(
                    text("SELECT count(*) FROM orders WHERE status = 'processing'")
                ).scalar_one()
            if left == 0:
                break
            time.sleep(0.5)
        while time.monotonic() < deadline:  # then until every webhook has gone out
            with engine.connect() as conn:
                waiting = conn.execute(
                    text(
                        "SELECT (SELECT count(*) FROM events WHERE dispatched_at IS NULL"
                        "  AND partner_id = :p)"
                        " + (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"
                        "  AND partner_id = :p)"
                    ),
                    {"p": ids["partner"]},
                ).scalar_one()
            if waiting == 0:
                break
            time.sleep(0.5)
        with engine.connect() as conn:
            rows = (
                conn.execute(
                    text(
                        "SELECT extract(epoch FROM (d.delivered_at - o.created_at)) * 1000 FROM deliveries d "
                        "JOIN orders o ON o.id = d.order_id WHERE d.status = 'delivered'"
                    )
                )
                .scalars()
                .all()
            )
            statuses: dict[str, int] = dict(
                conn.execute(text("SELECT status, count(*) FROM orders GROUP BY status")).all()
            )
            webhook_ms = sorted(
                float(r)
                for r in conn.execute(
                    text(
                        "SELECT extract(epoch FROM (w.updated_at - e.created_at)) * 1000"
                        " FROM webhook_deliveries w JOIN events e ON e.id = w.event_id"
                        " WHERE w.status = 'succeeded' AND w.partner_id = :p"
                    ),
                    {"p": ids["partner"]},
                ).scalars()
            )
        engine.dispose()
    finally:
        stack.stop()
        sim.terminate()
        receiver.server.shutdown()
        slow_receiver.server.shutdown()
    latencies = sorted(float(r) for r in rows)
    span = (receiver.arrivals[-1] - receiver.arrivals[0]) if len(receiver.arrivals) > 1 else 0.0

    def pct(p: float, values: list[float] = latencies) -> float | None:
        return round(values[min(len(values) - 1, int(len(values) * p))], 1) if values else None

    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "orders_placed": len(order_ids),
        "order_statuses": statuses,
        "supplier_latency_ms": 200,
        "rq_workers": RQ_WORKERS,
        "rate_per_second": args.rate,
        "order_to_fulfilled_ms": {
            "p50": pct(0.5),
            "p99": pct(0.99),
            "mean": round(statistics.fmean(latencies), 1) if latencies else None,
        },
        "webhooks_received": len(receiver.arrivals),
        "webhooks_per_second": round(len(receiver.arrivals) / span, 1) if span else None,
        "goal": "p99 < 2000 ms",
        "beside_a_slow_endpoint": {
            "slow_endpoint_answers_after_s": SLOW_RECEIVER_SECONDS,
            "slow_partner_events": args.slow_events,
            "webhook_event_to_delivered_ms": {
                "p50": pct(0.5, webhook_ms),
                "p99": pct(0.99, webhook_ms),
            },
            "goal": "p99 < 5000 ms",
            "met": bool(webhook_ms) and (pct(0.99, webhook_ms) or 0) < 5000,
        },
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"fulfillment-{result['when'].replace(':', '')}.json").write_text(
        json.dumps(result, indent=2)
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

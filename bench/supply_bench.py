"""Supply benchmarks (issue: shared supply): card-key import rate and allocation latency with
10,000 versus 1,000,000 codes in stock, on PostgreSQL.

    TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python bench/supply_bench.py

Uses its own schema (`bench_supply`), built by the Alembic migrations and dropped afterwards.
The 1,000,000-code stock is written with one INSERT … SELECT (sealed-looking random blobs):
allocation never decrypts, so what is measured is the pick (index + SKIP LOCKED), not the setup.
Figures are ratios measured in the same run; absolute times depend on the machine.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import normalize_database_url  # noqa: E402
from app.core.audit import Actor  # noqa: E402
from app.core.money import Money  # noqa: E402
from app.core.vault import current_vault  # noqa: E402
from app.extensions import db  # noqa: E402
from app.partners.service import create_partner  # noqa: E402
from app.supply import imports, products, suppliers  # noqa: E402
from app.supply import stock as supply_stock  # noqa: E402
from app.supply.models import Offer  # noqa: E402
from bench.own_schema import app_on_schema, drop_schema  # noqa: E402

ACTOR = Actor("cli", "bench")
SCHEMA = "bench_supply"


def _product(session, name: str):  # type: ignore[no-untyped-def]
    supplier = suppliers.create_supplier(session, ACTOR, current_vault(), {"name": f"S {name}"})
    suppliers.create_authorization(  # codes are imported only under a valid authorization
        session,
        ACTOR,
        supplier,
        {
            "brand": "Bench",
            "grantor": "Bench",
            "valid_from": date(2000, 1, 1),
            "valid_until": date(2099, 12, 31),
            "contract_ref": "BENCH",
            "region": suppliers.GLOBAL_REGION,
        },
    )
    product = products.create_product(
        session,
        ACTOR,
        {
            "brand": "Bench",
            "name": name,
            "category": "video",
            "fulfillment_type": "card_key",
            "face_value": Money(1000),
            "status": "active",
        },
    )
    products.create_offer(
        session, ACTOR, product, supplier, {"supplier_sku": name, "cost": Money(800), "priority": 1}
    )
    return product


def bench_import(session, n: int) -> float:  # type: ignore[no-untyped-def]
    product = _product(session, "import")
    rows = [
        imports.CodeRow(i + 1, f"BENCH-{i:08d}-XYZ", "pw" if i % 2 else None, None)
        for i in range(n)
    ]
    started = time.perf_counter()
    offer_id = session.scalar(select(Offer.id).where(Offer.product_id == product.id))
    imports.import_codes(session, ACTOR, current_vault(), product, rows, "bench", offer_id)
    session.commit()
    return n / (time.perf_counter() - started)


def _fill(session, product_id: str, n: int) -> None:  # type: ignore[no-untyped-def]
    batch = f"cbt_bench{product_id[-18:]}"
    session.execute(
        text(
            "INSERT INTO code_batches (id, product_id, code_count, status, imported_by, created_at, updated_at)"
            " VALUES (:b, :p, :n, 'active', 'bench', now(), now())"
        ),
        {"b": batch, "p": product_id, "n": n},
    )
    session.execute(
        text(
            "INSERT INTO codes (id, batch_id, product_id, status, key_id, code_blob, fingerprint, last4, created_at)"
            " SELECT 'cod_' || lpad(to_hex(g), 23, '0') || CAST(:s AS text), :b, :p, 'available', 'x',"
            " gen_random_bytes(40), md5(CAST(:salt AS text) || g::text) || md5(g::text), 'ABCD', now()"
            " FROM generate_series(1, :n) g"
        ),
        {"b": batch, "p": product_id, "n": n, "s": product_id[-3:], "salt": product_id},
    )
    session.commit()
    session.execute(text("ANALYZE codes"))


def bench_allocation(session, stock: int, rounds: int = 300) -> dict[str, float]:  # type: ignore[no-untyped-def]
    product = _product(session, f"alloc-{stock}")
    partner = create_partner(
        session,
        ACTOR,
        {
            "slug": f"bench-{stock}",
            "name": "Bench",
            "kind": "bank",
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
    session.commit()
    _fill(session, product.id, stock)
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        supply_stock.allocate_codes(session, product, partner.id, 1)
        session.commit()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {
        "p50_ms": statistics.median(timings),
        "p95_ms": timings[int(len(timings) * 0.95)],
        "mean_ms": statistics.fmean(timings),
    }


def main() -> None:
    url = normalize_database_url(
        os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    )
    import_n = int(os.environ.get("BENCH_IMPORT_CODES", "100000"))
    big = int(os.environ.get("BENCH_BIG_STOCK", "1000000"))
    app = app_on_schema(url, SCHEMA)
    with app.app_context():
        session = db.session()
        session.execute(text("CREATE EXTENSION IF NOT EXISTS pgcrypto"))
        session.commit()
        rate = bench_import(session, import_n)
        small = bench_allocation(session, 10_000)
        large = bench_allocation(session, big)
        db.session.remove()
    assert db.engine is not None  # bound by app_on_schema
    db.engine.dispose()
    result: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "import_codes_per_second": round(rate),
        "import_codes": import_n,
        "allocation_10k": small,
        f"allocation_{big // 1000}k": large,
        "allocation_p50_ratio_big_vs_10k": round(large["p50_ms"] / small["p50_ms"], 2),
        "goal_ratio": 1.5,
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"supply-{result['when'].replace(':', '')}.json").write_text(
        json.dumps(result, indent=2)
    )
    print(json.dumps(result, indent=2))
    drop_schema(url, SCHEMA)


if __name__ == "__main__":
    main()

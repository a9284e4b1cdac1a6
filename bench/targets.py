"""The issue's targets, judged from a benchmark report: met or not, each with what was measured.

Two kinds. A *check* is correctness under load (the flash sale sells exactly its units, each
code once; no answer is a 5xx or any other refusal where every request should succeed): a
miss fails the run, whatever the machine's speed. A *goal* is speed (ratios to the floors,
latencies, the drain): reported as met or not, never failing the run, because this machine's
speed drifts by tens of percent and the issue asks where we stand, honestly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

FLOOR_TARGET = 0.35  # order_card_key / floor
DB_LIMIT_TARGET = 0.25  # order_card_key / db_limit
ORDER_P99_AT_HALF_PEAK_MS = 150.0
FLASH_DRAIN_SECONDS = 10.0
CATALOG_P99_MS = 50.0
MALL_PAGE_TARGET = 0.3  # a mall page (home, product; signed in) / floor, at the fixed concurrency


@dataclass(frozen=True)
class Verdict:
    target: str
    measured: str
    met: bool
    is_check: bool  # correctness: a miss fails the run


_FLASH_SALE_AUDIT = text(
    """
    SELECT
      (SELECT count(*) FROM codes WHERE product_id = :product AND status = 'sold') AS sold,
      (SELECT count(*) FROM entitlements WHERE product_id = :product) AS entitlements,
      (SELECT count(DISTINCT code_id) FROM entitlements WHERE product_id = :product)
        AS distinct_codes
    """
)


def audit_flash_sale(connection: Connection, product_id: str) -> dict[str, int]:
    """What the database holds after the flash sale, whatever the answers said: codes sold,
    entitlements handed out, and distinct codes among them (fewer means a code went twice)."""
    row = connection.execute(_FLASH_SALE_AUDIT, {"product": product_id}).one()
    return {
        "sold": row.sold,
        "entitlements": row.entitlements,
        "distinct_codes": row.distinct_codes,
    }


def refusals(scenario: dict[str, Any]) -> dict[str, int]:
    """A swept scenario's answers that were not 2xx, by status, over every run it made."""
    refused: dict[str, int] = {}
    for step in [
        *scenario["steps"],
        *([scenario["at_half_peak"]] if "at_half_peak" in scenario else []),
    ]:
        for status, n in step["statuses"].items():
            if not status.startswith("2"):
                refused[status] = refused.get(status, 0) + n
    return refused


def verdicts(report: dict[str, Any]) -> list[Verdict]:
    """Every target of the issue, in the order it lists them, after the checks."""
    r, units = report["results"], report["profile"]["flash_units"]
    fs = r["flash_sale"]
    out = flash_sale_verdicts("flash sale", fs, units, "successes", "buyers")
    for name in ("floor", "catalog", "mall_home", "mall_product", "order_card_key"):
        if name not in r:  # a run from before the mall
            continue
        refused = refusals(r[name])
        out.append(Verdict(f"{name}: every answer 2xx", str(refused or 0), not refused, True))
    ratios = report["ratios"]
    by_floor, by_db = ratios["order_card_key/floor"], ratios["order_card_key/db_limit"]
    spread = ", ".join(f"{x['order/floor']} / {x['order/db_limit']}" for x in ratios["rounds"])
    half = r["order_card_key"]["at_half_peak"]
    catalog = r["catalog"]["steps"][0]
    out += [
        Verdict(
            f"order_card_key ≥ {FLOOR_TARGET} × floor (median of rounds)",
            f"{by_floor} (rounds, ÷ floor / ÷ db_limit: {spread})",
            by_floor is not None and by_floor >= FLOOR_TARGET,
            False,
        ),
        Verdict(
            f"order_card_key ≥ {DB_LIMIT_TARGET} × db_limit (median of rounds)",
            str(by_db),
            by_db is not None and by_db >= DB_LIMIT_TARGET,
            False,
        ),
        Verdict(
            f"order_card_key p99 at half of peak < {ORDER_P99_AT_HALF_PEAK_MS:.0f} ms",
            f"{half['p99_ms']} ms ({half['concurrency']})",
            half["p99_ms"] < ORDER_P99_AT_HALF_PEAK_MS,
            False,
        ),
        Verdict(
            f"flash sale drained < {FLASH_DRAIN_SECONDS:.0f} s",
            f"{fs['drain_seconds']} s",
            fs["drain_seconds"] < FLASH_DRAIN_SECONDS,
            False,
        ),
        Verdict(
            f"catalog p99 < {CATALOG_P99_MS:.0f} ms at 10,000 listings (lowest concurrency)",
            f"{catalog['p99_ms']} ms at c={catalog['concurrency']}",
            catalog["p99_ms"] < CATALOG_P99_MS,
            False,
        ),
    ]
    for page in ("mall_home", "mall_product"):
        if page in r and "fixed" in r[page] and "fixed" in r["floor"]:
            ratio = round(
                r[page]["fixed"]["throughput_rps"] / r["floor"]["fixed"]["throughput_rps"], 3
            )
            out.append(
                Verdict(
                    f"{page} ≥ {MALL_PAGE_TARGET} × floor (sweeps, c={r[page]['fixed']['concurrency']})",
                    str(ratio),
                    ratio >= MALL_PAGE_TARGET,
                    False,
                )
            )
    out += mall_checkout_verdicts(r, units)
    return out


def flash_sale_verdicts(
    label: str, sale: dict[str, Any], units: int, successes: str, buyers: str
) -> list[Verdict]:
    """The checks of a flash sale (the API's or the mall's): exactly `units` succeeded, no 5xx,
    and the database sold each of `units` codes once."""
    audit = sale.get("audit", {})
    return [
        Verdict(
            f"{label}: exactly {units} {successes}",
            f"{sale['successes']} of {sale['buyers']} {buyers}",
            sale["successes"] == units,
            True,
        ),
        Verdict(f"{label}: no 5xx", str(sale["5xx"]), sale["5xx"] == 0, True),
        Verdict(
            f"{label}: {units} codes sold, each once (database)",
            f"{audit.get('sold')} sold, {audit.get('entitlements')} entitlements, "
            f"{audit.get('distinct_codes')} distinct codes",
            audit.get("sold") == audit.get("entitlements") == audit.get("distinct_codes") == units,
            True,
        ),
    ]


MALL_CHECKOUT_TARGET = 0.7  # × the API's card-key order throughput (c=16)
EXTERNAL_LEDGER_P99_MS = 300.0  # a checkout deducting at a partner answering in 50 ms, c=16


def mall_checkout_verdicts(r: dict[str, Any], units: int) -> list[Verdict]:
    """The mall issue's budgets: checkout through the mall against the API's, the flash sale
    through the mall, and orders deducting at a partner's own ledger."""
    out: list[Verdict] = []
    if "mall_flash_sale" in r:
        out += flash_sale_verdicts(
            "mall flash sale", r["mall_flash_sale"], units, "orders placed", "members"
        )
    if "mall_checkout" in r:
        mc = r["mall_checkout"]
        not_placed = {k: n for k, n in mc["statuses"].items() if k != "302"}
        api = r["order_card_key"].get("fixed", {}).get("throughput_rps")
        ratio = round(mc["throughput_rps"] / api, 3) if api else None
        out += [
            Verdict(
                "mall_checkout: every answer an order placed (302)",
                str(not_placed or 0),
                not not_placed,
                True,
            ),
            Verdict(
                f"mall_checkout ≥ {MALL_CHECKOUT_TARGET} × order_card_key (c={mc['concurrency']})",
                str(ratio),
                ratio is not None and ratio >= MALL_CHECKOUT_TARGET,
                False,
            ),
        ]
    if "external_ledger_order" in r:
        ex = r["external_ledger_order"]
        audit = ex["audit"]
        refused = {k: n for k, n in ex["statuses"].items() if not k.startswith("2")}
        out += [
            Verdict(
                "external ledger: orders = deductions recorded = deductions at the partner",
                f"{audit['orders']} / {audit['deducts_recorded']} / "
                f"{audit['deducts_at_partner']} (refused: {refused or 0})",
                audit["orders"] == audit["deducts_recorded"] == audit["deducts_at_partner"],
                True,
            ),
            Verdict(
                f"external-ledger order p99 < {EXTERNAL_LEDGER_P99_MS:.0f} ms "
                f"(c={ex['concurrency']}, partner 50 ms)",
                f"{ex['p99_ms']} ms",
                ex["p99_ms"] < EXTERNAL_LEDGER_P99_MS,
                False,
            ),
        ]
    return out


def verdict_table(judged: list[Verdict]) -> str:
    lines = ["| target | kind | measured | status |", "|---|---|---|---|"]
    for v in judged:
        status = "met" if v.met else ("**FAILED**" if v.is_check else "**not met**")
        kind = "check" if v.is_check else "goal"
        lines.append(f"| {v.target} | {kind} | {v.measured} | {status} |")
    return "\n".join(lines)


def failed_checks(judged: list[Verdict]) -> list[Verdict]:
    """The correctness checks that failed: a run with any of these exits non-zero."""
    return [v for v in judged if v.is_check and not v.met]

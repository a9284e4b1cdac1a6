"""The benchmark's judge of the issue's targets: correctness checks fail a run, speed goals
are reported; the flash-sale audit reads what the database holds, not what the answers said."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import select, update

from app.entitlements.models import Entitlement
from bench.targets import audit_flash_sale, failed_checks, verdict_table, verdicts
from tests.factories import fund, make_member, place, sellable_card_key_listing


def _step(concurrency: int | str, p99_ms: float, **statuses: int) -> dict[str, Any]:
    return {"concurrency": concurrency, "p99_ms": p99_ms, "statuses": statuses or {"200": 50}}


def _report() -> dict[str, Any]:
    """A run that meets every target."""
    swept = {"steps": [_step(1, 20.0), _step(16, 90.0)]}
    return {
        "profile": {"flash_units": 100},
        "results": {
            "floor": copy.deepcopy(swept),
            "catalog": copy.deepcopy(swept),
            "order_card_key": {**swept, "at_half_peak": _step("open@50rps", 30.0, **{"201": 9})},
            "flash_sale": {
                "buyers": 1000,
                "successes": 100,
                "5xx": 0,
                "drain_seconds": 4.2,
                "audit": {"sold": 100, "entitlements": 100, "distinct_codes": 100},
            },
        },
        "ratios": {
            "order_card_key/floor": 0.36,
            "order_card_key/db_limit": 0.26,
            "rounds": [{"order/floor": 0.36, "order/db_limit": 0.26}],
        },
    }


def _by_target(report: dict[str, Any]) -> dict[str, bool]:
    return {v.target: v.met for v in verdicts(report)}


def test_a_run_meeting_every_target_has_no_failed_check():
    judged = verdicts(_report())
    assert all(v.met for v in judged)
    assert failed_checks(judged) == []
    assert "**" not in verdict_table(judged)


@pytest.mark.parametrize(
    ("change", "target"),
    [
        (lambda r: r["results"]["flash_sale"].update(successes=101), "exactly 100 successes"),
        (lambda r: r["results"]["flash_sale"].update({"5xx": 2}), "no 5xx"),
        (
            lambda r: r["results"]["flash_sale"]["audit"].update(distinct_codes=99),
            "each once (database)",
        ),
        (lambda r: r["results"]["flash_sale"].pop("audit"), "each once (database)"),
        (
            lambda r: r["results"]["order_card_key"]["steps"][1]["statuses"].update({"409": 1}),
            "order_card_key: every answer 2xx",
        ),
    ],
)
def test_a_correctness_miss_fails_the_run(change, target):
    report = _report()
    change(report)
    failed = failed_checks(verdicts(report))
    assert [v.target for v in failed if target in v.target], failed
    assert "**FAILED**" in verdict_table(verdicts(report))


@pytest.mark.parametrize(
    ("change", "target"),
    [
        (lambda r: r["ratios"].update({"order_card_key/floor": 0.349}), "× floor"),
        (lambda r: r["ratios"].update({"order_card_key/db_limit": None}), "× db_limit"),
        (lambda r: r["results"]["flash_sale"].update(drain_seconds=10.0), "drained"),
        (lambda r: r["results"]["catalog"]["steps"][0].update(p99_ms=50.0), "catalog p99"),
        (
            lambda r: r["results"]["order_card_key"]["at_half_peak"].update(p99_ms=151.0),
            "half of peak",
        ),
    ],
)
def test_a_speed_miss_is_reported_not_met_without_failing_the_run(change, target):
    report = _report()
    change(report)
    judged = verdicts(report)
    missed = [v for v in judged if not v.met]
    assert len(missed) == 1 and target in missed[0].target and not missed[0].is_check
    assert failed_checks(judged) == []
    assert "**not met**" in verdict_table(judged)


def test_flash_sale_audit_counts_a_code_handed_out_twice(session, partner_a):
    fund(session, partner_a)
    listing = sellable_card_key_listing(session, partner_a, codes=3)
    for n in range(2):
        place(session, partner_a, make_member(session, partner_a, f"m{n}", points=10_000), listing)
    product_id = listing.product_id
    assert audit_flash_sale(session.connection(), product_id) == {
        "sold": 2,
        "entitlements": 2,
        "distinct_codes": 2,
    }
    first, second = session.scalars(
        select(Entitlement).where(Entitlement.product_id == product_id)
    ).all()
    session.execute(
        update(Entitlement).where(Entitlement.id == second.id).values(code_id=first.code_id)
    )
    assert audit_flash_sale(session.connection(), product_id)["distinct_codes"] == 1


def test_the_mall_pages_are_judged_when_the_run_measured_them():
    report = _report()
    assert not any("mall_home" in v.target for v in verdicts(report))  # an older run
    fixed = {"concurrency": 16, "throughput_rps": 30.0}
    report["results"]["floor"]["fixed"] = {"concurrency": 16, "throughput_rps": 100.0}
    for page in ("mall_home", "mall_product"):
        report["results"][page] = {"steps": [_step(16, 80.0)], "fixed": fixed}
    judged = _by_target(report)
    assert judged["mall_home ≥ 0.3 × floor (sweeps, c=16)"] is True
    report["results"]["mall_product"]["steps"] = [_step(16, 80.0, **{"500": 1})]
    assert [v.target for v in failed_checks(verdicts(report))] == ["mall_product: every answer 2xx"]


def _with_mall(report: dict[str, Any]) -> dict[str, Any]:
    """The mall's scenarios, meeting their budgets."""
    r = report["results"]
    r["order_card_key"]["fixed"] = {"concurrency": 16, "throughput_rps": 100.0}
    r["mall_checkout"] = {
        "concurrency": 16, "throughput_rps": 80.0, "p99_ms": 200.0, "statuses": {"302": 800}
    }  # fmt: skip
    r["mall_flash_sale"] = {
        "buyers": 1000, "successes": 100, "refused": 900, "5xx": 0, "other": {},
        "drain_seconds": 5.0,
        "audit": {"sold": 100, "entitlements": 100, "distinct_codes": 100},
    }  # fmt: skip
    r["external_ledger_order"] = {
        "concurrency": 16, "throughput_rps": 120.0, "p99_ms": 180.0, "statuses": {"201": 1200},
        "audit": {"orders": 1200, "deducts_recorded": 1200, "deducts_at_partner": 1200},
    }  # fmt: skip
    return report


@pytest.mark.parametrize(
    ("change", "target", "is_check"),
    [
        (lambda r: r["mall_flash_sale"].update(successes=101), "exactly 100 orders placed", True),
        (lambda r: r["mall_flash_sale"]["audit"].update(distinct_codes=99), "each once", True),
        (lambda r: r["mall_checkout"]["statuses"].update({"400": 3}), "order placed (302)", True),
        (
            lambda r: r["external_ledger_order"]["audit"].update(deducts_at_partner=1201),
            "deductions at the partner",
            True,
        ),  # fmt: skip
        (lambda r: r["mall_checkout"].update(throughput_rps=60.0), "× order_card_key", False),
        (lambda r: r["external_ledger_order"].update(p99_ms=400.0), "p99 < 300 ms", False),
    ],
)
def test_the_malls_budgets_are_judged(change, target, is_check):
    report = _with_mall(_report())
    assert all(v.met for v in verdicts(report))
    change(report["results"])
    missed = [v for v in verdicts(report) if not v.met]
    assert [target in v.target for v in missed] == [True]
    assert (failed_checks(missed) != []) is is_check

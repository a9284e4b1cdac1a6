"""Supplier settlement, reconciliation of a supplier's statement, and platform margins, over
deliveries driven through the real fulfillment engine functions."""

from __future__ import annotations

import io
from collections import Counter
from datetime import timedelta

import pytest

from app.accounts import plans
from app.billing import invoices
from app.core.db import utcnow
from app.core.errors import NUL_MESSAGE
from app.fulfillment import service as engine
from app.fulfillment.models import Delivery
from app.fulfillment.suppliers.base import FAILED, SUCCESS, StatusReport, SubmitResult
from app.supply.suppliers import platform_today
from tests.factories import (
    TEST_ACTOR,
    fund,
    make_authorization,
    make_listing,
    make_member,
    make_product,
    make_supplier,
    place,
    sellable_card_key_listing,
)

COST, WHOLESALE = 2000, 2500


@pytest.fixture
def month(session, partner_a, partner_b, empty_queues):
    """Partner A's six direct recharges through supplier S: d1, d2, d3, d5 delivered by S,
    d4 refunded after S failed (S then reports a late success), d6 still in flight; and partner
    B's card key (batch without an offer: costed at the product's first offer)."""
    supplier = make_supplier(session, "Upstream S")
    product = make_product(
        session, "网易云音乐", fulfillment_type="direct_recharge", supplier=supplier
    )
    fund(session, partner_a)
    listing = make_listing(session, partner_a, product, points=100, wholesale_minor=WHOLESALE)
    member = make_member(session, partner_a, "m", points=10_000, phone="13912345678")
    orders = [place(session, partner_a, member, listing) for _ in range(6)]
    d = [session.query(Delivery).filter_by(order_id=o.id).one() for o in orders]
    now = utcnow()
    for i, delivery in enumerate(d[:5], start=1):
        submission = engine.begin_submission(session, delivery.id, now)
        engine.record_submission(session, submission, SubmitResult("accepted", f"SO-{i}"), now)
    for i in (0, 1, 2, 4):
        engine.apply_report(
            session, d[i].id, supplier.id, StatusReport(d[i].id, SUCCESS, f"SO-{i + 1}"), now
        )
    engine.apply_report(session, d[3].id, supplier.id, StatusReport(d[3].id, FAILED), now)
    assert engine.begin_submission(session, d[3].id, now) is None  # no other offer: refunded
    engine.apply_report(session, d[3].id, supplier.id, StatusReport(d[3].id, SUCCESS, "SO-4"), now)
    session.commit()
    assert [x.status for x in d] == ["delivered"] * 3 + ["failed", "delivered", "pending"]
    assert d[3].late_result["supplier_id"] == supplier.id

    fund(session, partner_b)
    card_key = sellable_card_key_listing(session, partner_b, codes=1, wholesale_minor=2200)
    place(session, partner_b, make_member(session, partner_b, "b", points=5000), card_key)
    return supplier, [x.id for x in d]


def _range() -> dict[str, str]:
    today = platform_today()
    return {
        "from": (today - timedelta(days=1)).isoformat(),
        "to": (today + timedelta(days=2)).isoformat(),
    }


STATEMENT = """reference,supplier_order_no,status,amount,completed_at
{d1},SO-1,success,20.00,
{d2},SO-2,success,21.00,
{d4},SO-4,success,20.00,
{d5},SO-5,failed,0,
{d1},SO-1,success,20.00,
dlv_01nosuchdelivery000000000,SO-99,success,20.00,
"""


def test_a_statement_with_one_of_each_discrepancy(app, session, month, platform, tmp_path):
    supplier, d = month
    statement = STATEMENT.format(d1=d[0], d2=d[1], d4=d[3], d5=d[4]).encode()
    answer = platform.post(
        f"/api/v1/platform/suppliers/{supplier.id}/reconciliations",
        query_string=_range(),
        data={"file": (io.BytesIO(statement), "s-2026-11.csv")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 201, answer.get_json()
    report = answer.get_json()
    kinds = Counter(item["kind"] for item in report["items"])
    assert kinds == {
        "matched": 1,
        "amount_mismatch": 1,
        "missing_on_their_side": 1,
        "missing_on_our_side": 1,
        "late_success_after_refund": 1,
        "status_mismatch": 1,
        "duplicate_row": 1,
    }
    by_kind = {item["kind"]: item for item in report["items"]}
    assert by_kind["matched"]["delivery_id"] == d[0]
    assert (
        by_kind["amount_mismatch"]["their_amount_minor"],
        by_kind["amount_mismatch"]["our_amount_minor"],
    ) == (2100, COST)
    assert by_kind["missing_on_their_side"]["delivery_id"] == d[2]
    assert by_kind["late_success_after_refund"]["delivery_id"] == d[3]
    assert by_kind["status_mismatch"]["delivery_id"] == d[4]
    assert by_kind["duplicate_row"]["line"] == 6
    assert by_kind["missing_on_our_side"]["supplier_order_no"] == "SO-99"
    assert report["counts"]["matched"] == 1 and report["row_count"] == 6
    saved = platform.get(f"/api/v1/platform/reconciliations/{report['id']}").get_json()
    assert saved["items"] == report["items"]
    listed = platform.get(f"/api/v1/platform/suppliers/{supplier.id}/reconciliations")
    assert [r["id"] for r in listed.get_json()["data"]] == [report["id"]]

    path = tmp_path / "statement.csv"
    path.write_bytes(statement)
    cli = app.test_cli_runner().invoke(
        args=[
            "billing",
            "reconcile",
            "Upstream S",
            str(path),
            "--from",
            _range()["from"],
            "--to",
            _range()["to"],
        ]
    )
    assert cli.exit_code == 0, cli.output
    assert "late_success_after_refund: 1" in cli.output and "matched: 1" in cli.output


def test_a_bad_statement_is_refused_whole(session, month, platform):
    supplier, d = month
    bad = f"reference,status,amount\n{d[0]},success,20.001\n{d[1]},maybe,20\n,success,1\n"
    answer = platform.post(
        f"/api/v1/platform/suppliers/{supplier.id}/reconciliations",
        data={"file": (io.BytesIO(bad.encode()), "bad.csv")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 422 and answer.mimetype == "application/problem+json"
    assert set(answer.get_json()["errors"]) == {"line 2", "line 3", "line 4"}
    no_dates = platform.post(
        f"/api/v1/platform/suppliers/{supplier.id}/reconciliations",
        data={
            "file": (io.BytesIO(f"reference,status,amount\n{d[0]},success,20\n".encode()), "x.csv")
        },
        content_type="multipart/form-data",
    )
    assert no_dates.status_code == 422 and "from" in no_dates.get_json()["errors"]


def test_a_statement_holding_a_nul_character_is_refused(session, month, platform):
    """PostgreSQL cannot store U+0000 in the report: this answered 500 there."""
    supplier, d = month
    statement = f"reference,status,amount\n{d[0]}\x00,success,20.00\n"
    answer = platform.post(
        f"/api/v1/platform/suppliers/{supplier.id}/reconciliations",
        query_string=_range(),
        data={"file": (io.BytesIO(statement.encode()), "s.csv")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 422 and answer.mimetype == "application/problem+json"
    assert answer.get_json()["errors"] == {"file": [NUL_MESSAGE]}
    listed = platform.get(f"/api/v1/platform/suppliers/{supplier.id}/reconciliations")
    assert listed.get_json()["data"] == []


def test_settlement_owes_deliveries_at_offer_cost_and_late_successes(session, month, platform):
    supplier, d = month
    answer = platform.get(
        f"/api/v1/platform/suppliers/{supplier.id}/settlement", query_string=_range()
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert [(line["units"], line["amount_minor"]) for line in body["lines"]] == [(4, 4 * COST)]
    assert [late["delivery_id"] for late in body["late_successes"]] == [d[3]]
    assert body["total_minor"] == 5 * COST


def test_margins_by_partner_product_and_supplier(session, month, partner_a, partner_b, platform):
    supplier, _ = month
    today = platform_today()
    plans.set_plan(session, TEST_ACTOR, partner_a.id, {"monthly_fee_minor": 1000})
    invoice, _ = invoices.generate_invoice(
        session, TEST_ACTOR, partner_a, invoices.period_of(utcnow(), "Asia/Shanghai")
    )
    invoices.issue_invoice(session, TEST_ACTOR, invoice.id, now=invoice.period_end)
    session.commit()
    query = {
        "from": today.replace(day=1).isoformat(),
        "to": (today + timedelta(days=2)).isoformat(),
    }

    by_partner = platform.get(
        "/api/v1/platform/margins", query_string={**query, "group_by": "partner"}
    )
    assert by_partner.status_code == 200, by_partner.get_json()
    rows = {r["key"]: r for r in by_partner.get_json()["rows"]}
    a, b = rows[partner_a.id], rows[partner_b.id]
    # A: 4 delivered at 2,500 over 2,000 cost, plus a late success (cost, no revenue), plus fees
    assert (a["units_delivered"], a["units_in_flight"]) == (4, 1)
    assert (a["wholesale_minor"], a["fees_minor"], a["cost_minor"]) == (
        4 * WHOLESALE,
        1000,
        5 * COST,
    )
    assert a["margin_minor"] == 4 * WHOLESALE + 1000 - 5 * COST
    assert (b["wholesale_minor"], b["cost_minor"], b["margin_minor"]) == (2200, 2000, 200)
    totals = by_partner.get_json()["totals"]
    assert totals["margin_minor"] == a["margin_minor"] + b["margin_minor"]

    by_supplier = platform.get(
        "/api/v1/platform/margins", query_string={**query, "group_by": "supplier"}
    )
    s_row = {r["key"]: r for r in by_supplier.get_json()["rows"]}[supplier.id]
    assert (s_row["label"], s_row["cost_minor"]) == ("Upstream S", 5 * COST)
    by_product = platform.get(
        "/api/v1/platform/margins", query_string={**query, "group_by": "product"}
    )
    assert len(by_product.get_json()["rows"]) == 2
    bad = platform.get(
        "/api/v1/platform/margins", query_string={"from": query["to"], "to": query["from"]}
    )
    assert bad.status_code == 422


def test_out_of_range_input_is_a_422_not_a_500(session, month, platform, partner_a):
    supplier, d = month
    long_ref = "r" * 121
    rows = f"reference,status,amount,completed_at\n{long_ref},success,1,\n{d[0]},success,1e15,\n"
    rows += f"{d[1]},success,NaN,\n{d[2]},success,1,0001-01-01T00:00:00\n"
    statement = platform.post(
        f"/api/v1/platform/suppliers/{supplier.id}/reconciliations",
        data={"file": (io.BytesIO(rows.encode()), "odd.csv")},
        content_type="multipart/form-data",
    )
    assert statement.status_code == 422
    assert set(statement.get_json()["errors"]) == {"line 2", "line 3", "line 4", "line 5"}
    for query in (
        {"from": "0001-01-01", "to": "2026-01-01"},
        {"from": "2026-01-01", "to": "9999-12-31"},
    ):
        answer = platform.get("/api/v1/platform/margins", query_string=query)
        assert answer.status_code == 422, query
    for month in ("9999-12", "0000-01"):
        answer = platform.post(
            f"/api/v1/platform/partners/{partner_a.id}/invoices", json={"month": month}
        )
        assert answer.status_code == 422 and answer.mimetype == "application/problem+json"


def test_a_unit_another_supplier_delivered_too_reconciles_as_a_double_delivery(
    session, partner_a, platform, empty_queues
):
    from app.fulfillment.suppliers.base import UNREACHABLE
    from app.supply import products

    silent, other = make_supplier(session, "Silent S"), make_supplier(session, "Other S")
    product = make_product(session, "QQ音乐", fulfillment_type="direct_recharge", supplier=silent)
    products.create_offer(
        session,
        TEST_ACTOR,
        product,
        other,
        {"supplier_sku": "O-1", "cost": product.offers[0].cost, "priority": 20},
    )
    make_authorization(session, other, "QQ音乐")
    fund(session, partner_a)
    listing = make_listing(session, partner_a, product, points=100, wholesale_minor=WHOLESALE)
    member = make_member(session, partner_a, "m", points=10_000, phone="13912345678")
    delivery = (
        session.query(Delivery)
        .filter_by(order_id=place(session, partner_a, member, listing).id)
        .one()
    )
    long_ago = utcnow() - timedelta(minutes=11)
    submission = engine.begin_submission(session, delivery.id, long_ago)
    engine.record_submission(session, submission, SubmitResult("accepted", "SIL-1"), long_ago)
    now = utcnow()
    engine.apply_report(
        session, delivery.id, silent.id, StatusReport(delivery.id, UNREACHABLE), now
    )
    submission = engine.begin_submission(session, delivery.id, now)
    assert submission.supplier_id == other.id
    engine.apply_report(
        session, delivery.id, other.id, StatusReport(delivery.id, SUCCESS, "OT-1"), now
    )
    session.commit()
    statement = (
        f"reference,supplier_order_no,status,amount,completed_at\n{delivery.id},SIL-1,success,20,\n"
    )
    answer = platform.post(
        f"/api/v1/platform/suppliers/{silent.id}/reconciliations",
        query_string=_range(),
        data={"file": (io.BytesIO(statement.encode()), "silent.csv")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 201, answer.get_json()
    assert [item["kind"] for item in answer.get_json()["items"]] == ["double_delivery"]

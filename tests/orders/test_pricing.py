"""One pricing pipeline: what the catalog shows a member is what checkout charges them."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from app.core.audit import AuditLog
from app.core.db import utcnow
from app.orders.checkout import Policies
from app.orders.models import Order
from app.orders.pricing import Price, PricingContext, Quote, quote, unit_price
from app.orders.risk import Decision, OrderDraft
from tests.factories import fund, make_member, sellable_card_key_listing

SALES = {
    "no sale": {},
    "sale open": {"sale_offset": (-1, 1)},
    "sale not yet open": {"sale_offset": (1, 2)},
    "sale over": {"sale_offset": (-2, -1)},
    "sale open, no end": {"sale_offset": (-1, None)},
}
PRICES = {
    "points": {"points": 1000, "cash_minor": 0, "tier": {"points": 800, "cash": 0}},
    "cash": {"points": 0, "cash_minor": 1500, "tier": {"points": 0, "cash": 1200}},
    "points and cash": {"points": 600, "cash_minor": 500, "tier": {"points": 500, "cash": 400}},
}


def _listing(session, partner, prices, sale):
    now = utcnow()
    fields = {
        "points": prices["points"],
        "cash_minor": prices["cash_minor"],
        "tier_prices": {"gold": prices["tier"]},
    }
    if "sale_offset" in sale:
        start, end = sale["sale_offset"]
        fields |= {
            "sale_points": prices["points"] // 2 or None,
            "sale_cash_minor": prices["cash_minor"] // 2 or None,
            "sale_starts_at": now + timedelta(hours=start),
            "sale_ends_at": now + timedelta(hours=end) if end is not None else None,
        }
    return sellable_card_key_listing(session, partner, codes=1, **fields)


def _buy_at_catalog_price(api, listing_id, member, key):
    """Read the member's price from the catalog, then order one unit paying exactly that."""
    shown = api.get(f"/api/v1/catalog/{listing_id}?member={member}").get_json()["price"]
    cash = shown["cash"]
    payment = {"points": shown["points"], "cash": cash if cash["amount"] else None}
    if cash["amount"]:
        payment["cash_payment_ref"] = f"pay-{key}"
    body = {
        "member": member,
        "items": [{"listing": listing_id, "quantity": 1}],
        "payment": payment,
        "expected_total": {"points": shown["points"], "cash": cash},
    }
    response = api.post("/api/v1/orders", json=body, headers={"Idempotency-Key": key})
    return shown, response


@pytest.mark.parametrize(
    "prices,sale,tier",
    list(itertools.product(PRICES, SALES, [None, "gold", "silver"])),
)
def test_catalog_price_equals_checkout_price(api_a, session, partner_a, prices, sale, tier):
    fund(session, partner_a)
    listing = _listing(session, partner_a, PRICES[prices], SALES[sale])
    make_member(session, partner_a, "buyer", points=100_000, tier=tier)
    shown, response = _buy_at_catalog_price(api_a, listing.id, "buyer", "k")
    assert response.status_code == 201, response.get_json()
    (item,) = response.get_json()["items"]
    assert item["unit_points"] == shown["points"]
    assert item["unit_cash"] == shown["cash"]
    assert item["snapshot"]["member_price"]["source"] == shown["source"]
    assert response.get_json()["total"] == {"points": shown["points"], "cash": shown["cash"]}


def test_unit_price_goes_list_then_tier_then_sale(session, partner_a):
    now = utcnow()
    listing = sellable_card_key_listing(
        session,
        partner_a,
        codes=0,
        points=1000,
        tier_prices={"gold": {"points": 800, "cash": 0}},
        sale_points=500,
        sale_starts_at=now + timedelta(hours=1),
        sale_ends_at=now + timedelta(hours=2),
    )

    def points(tier, at):
        return unit_price(listing, PricingContext(partner_a.id, tier, at)).points

    assert points(None, now) == 1000
    assert points("gold", now) == 800
    assert points("gold", now + timedelta(minutes=90)) == 500
    assert points("gold", now + timedelta(hours=3)) == 800


class TenPercentOffPoints:
    """A campaign, as marketing would plug one in."""

    def adjust(self, priced: Quote, context: PricingContext) -> Quote:
        lines = tuple(
            replace(
                line,
                unit=Price(
                    line.unit.points * 9 // 10, line.unit.cash_minor, line.unit.currency, "campaign"
                ),
            )
            for line in priced.lines
        )
        return replace(priced, lines=lines)


@pytest.fixture
def policies(app: Flask):
    """Swap checkout's pluggable parts for one test."""
    before = app.extensions["quanyi_checkout"]

    def use(**parts):
        app.extensions["quanyi_checkout"] = Policies(**parts)

    yield use
    app.extensions["quanyi_checkout"] = before


def test_an_adjuster_prices_the_catalog_and_checkout_alike(api_a, session, partner_a, policies):
    policies(adjusters=(TenPercentOffPoints(),))
    fund(session, partner_a)
    listing = sellable_card_key_listing(session, partner_a, codes=1, points=1000)
    make_member(session, partner_a, "buyer", points=5000)
    shown, response = _buy_at_catalog_price(api_a, listing.id, "buyer", "campaign")
    assert shown == {"points": 900, "cash": {"amount": 0, "currency": "CNY"}, "source": "campaign"}
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["total"]["points"] == 900
    assert api_a.get("/api/v1/members/buyer").get_json()["points_balance"] == 4100


def test_quote_totals_are_the_sums_of_its_lines(session, partner_a):
    first = sellable_card_key_listing(session, partner_a, codes=0, points=300, cash_minor=50)
    second = sellable_card_key_listing(session, partner_a, codes=0, points=700, wholesale_minor=10)
    priced = quote([(first, 2), (second, 3)], PricingContext(partner_a.id, None, utcnow()))
    assert (priced.points, priced.cash_minor) == (300 * 2 + 700 * 3, 50 * 2)
    assert priced.wholesale_minor == 2200 * 2 + 10 * 3


class Rule:
    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        self.drafts: list[OrderDraft] = []

    def assess(self, draft: OrderDraft) -> Decision:
        self.drafts.append(draft)
        return self.decision


def _order_body(listing_id, **context):
    return {
        "member": "buyer",
        "items": [{"listing": listing_id, "quantity": 1}],
        "payment": {"points": 1000},
        **context,
    }


def test_a_denying_risk_rule_refuses_the_order_and_writes_nothing(
    api_a, session, partner_a, policies
):
    rule = Rule(Decision("deny", ("velocity",)))
    policies(risk=rule)
    fund(session, partner_a)
    listing = sellable_card_key_listing(session, partner_a, codes=1)
    make_member(session, partner_a, "buyer", points=5000)
    response = api_a.post(
        "/api/v1/orders", json=_order_body(listing.id), headers={"Idempotency-Key": "deny"}
    )
    assert response.status_code == 422
    assert response.get_json()["code"] == "order_denied"
    assert response.get_json()["reasons"] == ["velocity"]
    assert session.scalars(select(Order)).all() == []
    assert api_a.get("/api/v1/members/buyer").get_json()["points_balance"] == 5000
    assert api_a.get(f"/api/v1/catalog/{listing.id}").get_json()["available"] == 1


def test_risk_rules_see_the_member_context_and_orders_keep_it(api_a, session, partner_a, policies):
    rule = Rule(Decision("review", ("new device",)))
    policies(risk=rule)
    fund(session, partner_a)
    listing = sellable_card_key_listing(session, partner_a, codes=1)
    make_member(session, partner_a, "buyer", points=5000)
    context = {"member_ip": "203.0.113.9", "device_id": "dev-1", "member_since": "2019-05-01"}
    response = api_a.post(
        "/api/v1/orders",
        json=_order_body(listing.id, **context),
        headers={"Idempotency-Key": "review"},
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert {k: body[k] for k in context} == context
    (draft,) = rule.drafts
    assert draft.context.member_ip == "203.0.113.9" and draft.quote.points == 1000
    audit = session.scalars(
        select(AuditLog).where(AuditLog.action == "order.created", AuditLog.target_id == body["id"])
    ).one()
    assert audit.after["risk"] == "review" and audit.after["reasons"] == ["new device"]


@pytest.mark.parametrize(
    "field,value", [("member_ip", "not-an-ip"), ("member_since", "yesterday"), ("device_id", "")]
)
def test_bad_member_context_is_422(api_a, session, partner_a, field, value):
    listing = sellable_card_key_listing(session, partner_a, codes=1)
    response = api_a.post(
        "/api/v1/orders",
        json=_order_body(listing.id, **{field: value}),
        headers={"Idempotency-Key": "bad"},
    )
    assert response.status_code == 422
    assert field in response.get_json()["errors"]

"""Sandbox mode: a partner's sandbox clients act for its test-mode twin. Its orders never
appear in live lists, invoices, margins or supplier traffic; the magic values do what
docs/sandbox.md says."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from app.billing import invoices
from app.core.db import utcnow
from app.core.errors import ValidationFailed
from app.core.money import Money
from app.core.queue import drain
from app.entitlements.models import Entitlement
from app.fulfillment.models import Delivery
from app.partners.models import Partner
from app.sandbox import service as sandbox
from app.supply import products
from app.supply.models import Code, Product, Supplier
from app.webhooks.models import Event
from tests.factories import (
    TEST_ACTOR,
    ApiUser,
    fund,
    make_authorization,
    make_client,
    make_listing,
    make_member,
    make_product,
    sellable_card_key_listing,
    vault_for_tests,
)
from tests.fulfillment.conftest import sim_supplier


@pytest.fixture(autouse=True)
def _start_with_empty_queues(empty_queues) -> None:
    """Tests here run queued jobs."""


@pytest.fixture
def twin(session, client, platform, partner_a) -> Partner:
    answer = platform.post(f"/api/v1/platform/partners/{partner_a.id}/sandbox")
    assert answer.status_code == 200, answer.get_json()
    return session.get_one(Partner, answer.get_json()["id"])


@pytest.fixture
def api_sandbox(session, client, twin) -> ApiUser:
    return ApiUser.login(client, make_client(session, twin))


def _listing(api: ApiUser, behaviour: str, fulfillment_type: str) -> dict[str, Any]:
    catalog = api.get("/api/v1/catalog?limit=100").get_json()["data"]
    names = {
        spec.name
        for spec in sandbox.CATALOG
        if spec.behaviour == behaviour and spec.fulfillment_type == fulfillment_type
    }
    return next(item for item in catalog if item["name"] in names)


def _order(api: ApiUser, listing: dict[str, Any], account: str | None = None) -> Any:
    return api.post(
        "/api/v1/orders",
        json={
            "member": "tester",
            "items": [{"listing": listing["id"], "quantity": 1, "recharge_account": account}],
            "payment": {"points": listing["price"]["points"]},
        },
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )


def _member(api: ApiUser, points: int = 100_000) -> None:
    assert api.put("/api/v1/members/tester", json={"phone": "13912345678"}).status_code in (
        200,
        201,
    )
    grant = api.post(
        "/api/v1/members/tester/points",
        json={"type": "grant", "amount": points, "reason": "sandbox test"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert grant.status_code in (200, 201), grant.get_json()


def test_provisioning_makes_one_twin_with_the_sandbox_catalog(
    session, platform, partner_a, twin, api_sandbox
):
    again = platform.post(f"/api/v1/platform/partners/{partner_a.id}/sandbox")
    assert again.get_json()["id"] == twin.id  # idempotent
    assert twin.sandbox_of_id == partner_a.id and twin.slug == "partner-a-sandbox"
    assert api_sandbox.get("/api/v1/partner").get_json()["sandbox_of_id"] == partner_a.id

    catalog = api_sandbox.get("/api/v1/catalog?limit=100").get_json()["data"]
    assert sorted(item["name"] for item in catalog) == sorted(spec.name for spec in sandbox.CATALOG)
    # a sandbox has no sandbox of its own
    nested = platform.post(f"/api/v1/platform/partners/{twin.id}/sandbox")
    assert nested.status_code == 409 and nested.get_json()["code"] == "sandbox_of_sandbox"

    # platform lists show live records unless asked for the sandbox ones
    live = platform.get("/api/v1/platform/partners?limit=100").get_json()["data"]
    assert {p["id"] for p in live} == {partner_a.id}
    twins = platform.get("/api/v1/platform/partners?sandbox=true").get_json()["data"]
    assert [p["id"] for p in twins] == [twin.id]
    listed = platform.get("/api/v1/platform/products?limit=100").get_json()["data"]
    assert not [p for p in listed if p["brand"] == sandbox.BRAND]
    only = platform.get("/api/v1/platform/products?sandbox=true&limit=100").get_json()["data"]
    assert {p["brand"] for p in only} == {sandbox.BRAND}
    suppliers = platform.get("/api/v1/platform/suppliers?sandbox=true").get_json()["data"]
    assert [s["name"] for s in suppliers] == [sandbox.SUPPLIER_NAME]
    assert platform.get("/api/v1/platform/suppliers").get_json()["data"] == []


def test_live_and_sandbox_listings_never_cross(session, partner_a, twin):
    live_product = make_product(session)
    sandbox_product = session.scalars(
        select(Product).where(Product.sandbox_behaviour == "standard")
    ).first()
    for partner, product in ((twin, live_product), (partner_a, sandbox_product)):
        with pytest.raises(ValidationFailed) as refused:
            make_listing(session, partner, product)
        assert "sandbox" in refused.value.extra["errors"]["product_id"][0]
        session.rollback()


def test_sandbox_orders_never_reach_live_lists_invoices_margins_or_suppliers(
    app, session, client, sim_factory, platform, partner_a, api_a, twin, api_sandbox
):
    # the live partner: a member, a card key and a direct recharge through a real supplier
    live_sim = sim_factory()
    live_supplier = sim_supplier(session, live_sim, "Live Supplier")
    fund(session, partner_a)
    make_member(session, partner_a, "tester", points=100_000, phone="13912345678")
    card = sellable_card_key_listing(session, partner_a, points=100)
    recharge_product = make_product(
        session, "网易云音乐", fulfillment_type="direct_recharge", supplier=live_supplier
    )
    recharge = make_listing(session, partner_a, recharge_product, points=100)
    # an operator's mistake: each side's product also has an offer of the other side's
    # supplier, ranked first — it must still never be used
    sandbox_supplier = session.scalars(select(Supplier).where(Supplier.is_sandbox)).one()
    sandbox_recharge = session.scalars(
        select(Product).where(
            Product.sandbox_behaviour == "standard", Product.fulfillment_type == "direct_recharge"
        )
    ).one()
    make_authorization(session, sandbox_supplier, "网易云音乐")
    for product, supplier in (
        (recharge_product, sandbox_supplier),
        (sandbox_recharge, live_supplier),
    ):
        products.create_offer(
            session,
            TEST_ACTOR,
            product,
            supplier,
            {"supplier_sku": "CROSSED", "cost": Money(1), "priority": 1},
        )
    make_authorization(session, live_supplier, sandbox.BRAND)
    session.commit()

    live_orders = [
        _order(api_a, {"id": card.id, "price": {"points": 100}}),
        _order(api_a, {"id": recharge.id, "price": {"points": 100}}, "13912345678"),
    ]
    _member(api_sandbox)
    sandbox_orders = [
        _order(api_sandbox, _listing(api_sandbox, "standard", kind), account)
        for kind, account in (
            ("card_key", None),
            ("direct_recharge", "13912345678"),
            ("link", None),
        )
    ]
    for answer in live_orders + sandbox_orders:
        assert answer.status_code == 201, answer.get_json()
    drain(app)
    live_ids = {a.get_json()["id"] for a in live_orders}
    sandbox_ids = {a.get_json()["id"] for a in sandbox_orders}

    # lists and reads: each side sees only its own
    assert {o["id"] for o in api_a.get("/api/v1/orders").get_json()["data"]} == live_ids
    assert {o["id"] for o in api_sandbox.get("/api/v1/orders").get_json()["data"]} == sandbox_ids
    for order_id in sandbox_ids:
        assert api_a.get(f"/api/v1/orders/{order_id}").status_code == 404
        assert api_sandbox.get(f"/api/v1/orders/{order_id}").get_json()["status"] == "fulfilled"
    for order_id in live_ids:
        assert api_sandbox.get(f"/api/v1/orders/{order_id}").status_code == 404

    # supplier traffic: the live supplier saw the live recharge only; the sandbox units went
    # to the sandbox supplier only
    session.expire_all()
    assert len(live_sim.orders) == 1
    for delivery in session.scalars(select(Delivery).where(Delivery.offer_id.is_not(None))):
        supplier_id = session.scalar(
            select(Supplier.id)
            .join(products.Offer, products.Offer.supplier_id == Supplier.id)
            .where(products.Offer.id == delivery.offer_id)
        )
        expected = sandbox_supplier.id if delivery.partner_id == twin.id else live_supplier.id
        assert supplier_id == expected

    # invoices: the twin is never invoiced, alone or with everyone
    period = invoices.period_of(utcnow(), partner_a.timezone)
    made = invoices.generate_for_all(session, TEST_ACTOR, period)
    assert {invoice.partner_id for invoice, _ in made} == {partner_a.id}
    session.rollback()
    refused = platform.post(f"/api/v1/platform/partners/{twin.id}/invoices", json={"month": period})
    assert refused.status_code == 409 and refused.get_json()["code"] == "sandbox_not_billed"

    # margins count live units only
    start = (utcnow() - timedelta(days=1)).date().isoformat()
    end = (utcnow() + timedelta(days=2)).date().isoformat()
    margins = platform.get(
        "/api/v1/platform/margins", query_string={"from": start, "to": end, "group_by": "partner"}
    ).get_json()
    assert [row["key"] for row in margins["rows"]] == [partner_a.id]
    totals = margins["totals"]
    assert (totals["units_delivered"], totals["units_in_flight"]) == (1, 1)  # recharge awaits


def test_magic_recharge_accounts(app, session, api_sandbox, twin, monkeypatch):
    _member(api_sandbox)
    listing = _listing(api_sandbox, "standard", "direct_recharge")
    fails = _order(api_sandbox, listing, "13800004000").get_json()
    slow = _order(api_sandbox, listing, "13800004001").get_json()
    drain(app)
    assert api_sandbox.get(f"/api/v1/orders/{fails['id']}").get_json()["status"] == "failed"
    balance = api_sandbox.get("/api/v1/members/tester").get_json()["points_balance"]
    assert balance == 100_000 - listing["price"]["points"]  # the failed unit refunded

    # the slow one is processing, and still is when polled within its minute
    from app.fulfillment import jobs

    delivery = session.scalars(select(Delivery).where(Delivery.order_id == slow["id"])).one()
    assert delivery.status == "submitted"
    jobs.poll_delivery(delivery.id)
    session.expire_all()
    assert session.get_one(Delivery, delivery.id).status == "submitted"
    later = utcnow() + timedelta(seconds=61)
    monkeypatch.setattr("app.fulfillment.suppliers.sandbox.utcnow", lambda: later)
    jobs.poll_delivery(delivery.id)
    assert api_sandbox.get(f"/api/v1/orders/{slow['id']}").get_json()["status"] == "fulfilled"


def test_sold_out_listing_and_code_reported_invalid(app, session, api_sandbox, twin):
    _member(api_sandbox)
    sold_out = _order(api_sandbox, _listing(api_sandbox, "out_of_stock", "card_key"))
    assert sold_out.status_code == 409 and sold_out.get_json()["code"] == "out_of_stock"

    order = _order(api_sandbox, _listing(api_sandbox, sandbox.INVALID_REASON, "card_key"))
    assert order.status_code == 201, order.get_json()
    drain(app)
    session.expire_all()
    entitlement = session.scalars(
        select(Entitlement).where(Entitlement.order_id == order.get_json()["id"])
    ).one()
    assert entitlement.status == "revoked"
    event = session.scalars(select(Event).where(Event.type == "entitlement.revoked")).one()
    assert event.partner_id == twin.id
    assert event.data["reason"] == sandbox.INVALID_REASON
    reveal = api_sandbox.post(f"/api/v1/entitlements/{entitlement.id}/reveal")
    assert reveal.status_code == 409 and reveal.get_json()["code"] == "nothing_to_reveal"


def test_test_codes_are_topped_up_after_sales(app, session, api_sandbox, twin):
    product = session.scalars(
        select(Product).where(
            Product.sandbox_behaviour == "standard", Product.fulfillment_type == "card_key"
        )
    ).one()
    available = select(func.count()).where(
        Code.product_id == product.id, Code.status == "available"
    )
    assert session.scalar(available) == sandbox.REFILL_TO
    # most of them sold already (as after a long test run); the next sale tops them up
    keep = session.scalars(
        select(Code.id).where(Code.product_id == product.id).limit(sandbox.REFILL_BELOW - 10)
    ).all()
    session.execute(
        update(Code)
        .where(Code.product_id == product.id, Code.id.not_in(keep))
        .values(status="sold")
    )
    session.commit()
    _member(api_sandbox)
    assert _order(api_sandbox, _listing(api_sandbox, "standard", "card_key")).status_code == 201
    drain(app)
    session.expire_all()
    assert session.scalar(available) == sandbox.REFILL_TO
    # a live product is never refilled
    live = make_product(session, low_stock_threshold=None)
    assert sandbox.refill_codes(session, TEST_ACTOR, vault_for_tests(), live) == 0

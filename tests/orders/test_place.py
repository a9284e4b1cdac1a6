"""Placing orders: server-side prices, one transaction, clear refusals that write nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.accounts.models import AccountEntry, PartnerAccount
from app.core.audit import AuditLog
from app.core.db import utcnow
from app.entitlements.models import Entitlement
from app.fulfillment.models import Delivery
from app.fulfillment.service import fail_delivery
from app.members.models import Member, PointsEntry
from app.orders.models import Order, OrderItem
from app.partners.models import Listing, UsageCounter
from app.supply import products, stock
from app.supply.models import Code
from app.webhooks.models import Event
from tests.factories import (
    TEST_ACTOR,
    fund,
    make_listing,
    make_member,
    make_partner,
    make_product,
    sellable_card_key_listing,
    stock_codes,
)

COUNTED = (Order, OrderItem, Delivery, Entitlement, PointsEntry, AccountEntry, Event, AuditLog)


def _counts(session) -> dict[str, int]:
    out = {m.__name__: session.scalar(select(func.count()).select_from(m)) for m in COUNTED}
    out["sold"] = session.scalar(
        select(func.count()).select_from(Code).where(Code.status != "available")
    )
    return out


def _order(api, listing_id, member="m1", quantity=1, points=1000, key="k", **extra):
    body = {
        "member": member,
        "items": [{"listing": listing_id, "quantity": quantity, **extra}],
        "payment": {"points": points},
    }
    return api.post("/api/v1/orders", json=body, headers={"Idempotency-Key": key})


@pytest.fixture
def shop(session, partner_a):
    fund(session, partner_a)
    listing = sellable_card_key_listing(session, partner_a, codes=5)
    make_member(session, partner_a, "m1", points=10_000)
    return listing


def test_retry_with_same_key_returns_same_order_and_charges_once(api_a, session, shop):
    first = _order(api_a, shop.id, key="same")
    before = _counts(session)
    second = _order(api_a, shop.id, key="same")
    assert second.status_code == 201 and second.headers["Idempotent-Replayed"] == "true"
    assert second.get_json()["id"] == first.get_json()["id"]
    assert _counts(session) == before
    assert session.scalar(select(Member.points_balance).where(Member.external_id == "m1")) == 9000


def test_same_key_other_body_is_422(api_a, shop):
    _order(api_a, shop.id, key="k2")
    response = _order(api_a, shop.id, key="k2", quantity=2, points=2000)
    assert response.status_code == 422
    assert response.get_json()["code"] == "idempotency_key_reused"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"listing": "lst_00000000000000000000000000"}, 404, "listing_not_found"),
        ({"quantity": 0}, 422, "validation_error"),
        ({"quantity": -1}, 422, "validation_error"),
        ({"quantity": 10**9}, 422, "validation_error"),
        ({"quantity": 6, "points": 6000}, 422, "validation_error"),  # over max_per_order (5)
        ({"points": 999}, 422, "payment_mismatch"),
        ({"member": "nobody"}, 404, "member_not_found"),
    ],
)
def test_bad_orders_have_their_code_and_write_nothing(api_a, session, shop, change, status, code):
    before = _counts(session)
    args = {"listing_id": shop.id, **change}
    listing_id = args.pop("listing", args.pop("listing_id"))
    response = _order(api_a, listing_id, **{k: v for k, v in args.items() if k != "listing_id"})
    assert response.status_code == status, response.get_json()
    assert response.get_json()["code"] == code
    assert _counts(session) == before


def test_another_partners_listing_is_not_found(api_a, session, shop, partner_b):
    foreign = sellable_card_key_listing(session, partner_b, codes=1)
    before = _counts(session)
    response = _order(api_a, foreign.id)
    assert response.status_code == 404 and response.get_json()["code"] == "listing_not_found"
    assert _counts(session) == before


def test_blocked_member_cannot_order(api_a, session, shop, partner_a):
    make_member(session, partner_a, "m1", status="blocked")
    before = _counts(session)
    response = _order(api_a, shop.id)
    assert response.status_code == 403 and response.get_json()["code"] == "member_blocked"
    assert _counts(session) == before


def test_insufficient_points(api_a, session, shop, partner_a):
    make_member(session, partner_a, "poor", points=999)
    before = _counts(session)
    response = _order(api_a, shop.id, member="poor")
    assert response.status_code == 422 and response.get_json()["code"] == "insufficient_points"
    assert _counts(session) == before


def test_insufficient_partner_balance(api_a, session, partner_a):
    listing = sellable_card_key_listing(session, partner_a, codes=2, wholesale_minor=500)
    make_member(session, partner_a, "m1", points=10_000)
    fund(session, partner_a, amount_minor=300, credit_minor=100)
    before = _counts(session)
    response = _order(api_a, listing.id)
    assert (
        response.status_code == 402
        and response.get_json()["code"] == "insufficient_partner_balance"
    )
    assert _counts(session) == before
    fund(session, partner_a, amount_minor=100)  # 400 + 100 credit = 500: just enough
    assert _order(api_a, listing.id, key="k-again").status_code == 201
    account = session.get_one(PartnerAccount, partner_a.id)
    session.refresh(account)
    assert account.balance_minor == -100


def test_out_of_stock_writes_nothing(api_a, session, partner_a):
    fund(session, partner_a)
    listing = sellable_card_key_listing(session, partner_a, codes=1)
    make_member(session, partner_a, "m1", points=10_000)
    before = _counts(session)
    response = _order(api_a, listing.id, quantity=2, points=2000)
    assert response.status_code == 409 and response.get_json()["code"] == "out_of_stock"
    assert _counts(session) == before


@pytest.mark.parametrize("exclusive", [True, False])
def test_an_order_draws_the_partners_allocation_before_the_shared_pool(
    api_a, api_b, session, partner_a, partner_b, exclusive
):
    """The order path reads the partner's pools with the listing: its own allocation first,
    then the shared pool unless the allocation is exclusive; never another partner's."""
    product = make_product(session, low_stock_threshold=None)
    stock_codes(session, product, 3)
    for partner in (partner_a, partner_b):
        fund(session, partner)
        make_listing(session, partner, product)
        make_member(session, partner, "m1", points=10_000)
    held = stock.create_allocation(session, TEST_ACTOR, product, partner_a.id, 1, exclusive)
    released = stock.create_allocation(session, TEST_ACTOR, product, partner_b.id, 1, True)
    stock.release_allocation(session, TEST_ACTOR, released)
    session.commit()
    listing_a, listing_b = (
        session.scalar(select(Listing.id).where(Listing.partner_id == p.id))
        for p in (partner_a, partner_b)
    )

    def code_of(response) -> str | None:
        assert response.status_code == 201, response.get_json()
        (delivery,) = session.scalars(
            select(Delivery).where(Delivery.order_id == response.get_json()["id"])
        )
        return session.get_one(Code, delivery.code_id).allocation_id

    assert code_of(_order(api_a, listing_a, key="a1")) == held.id
    if exclusive:  # its one unit is gone and the shared pool is not its to draw
        assert _order(api_a, listing_a, key="a2").get_json()["code"] == "out_of_stock"
    else:
        assert code_of(_order(api_a, listing_a, key="a2")) is None
    # b's released allocation is no pool any more: b draws the shared pool
    assert code_of(_order(api_b, listing_b, key="b1")) is None


def test_direct_recharge_needs_a_valid_account(api_a, session, partner_a):
    fund(session, partner_a)
    product = make_product(session, "网易云音乐", fulfillment_type="direct_recharge")
    listing = make_listing(session, partner_a, product)
    make_member(session, partner_a, "m1", points=10_000)
    before = _counts(session)
    for account in (None, "12345"):
        response = _order(api_a, listing.id, recharge_account=account, key=f"dr-{account}")
        assert (
            response.status_code == 422
            and response.get_json()["code"] == "invalid_recharge_account"
        )
    assert _counts(session) == before
    ok = _order(api_a, listing.id, recharge_account="13912345678", key="dr-ok")
    assert ok.status_code == 201
    assert ok.get_json()["status"] == "processing"
    assert [d["status"] for d in ok.get_json()["deliveries"]] == ["pending"]


def test_price_changed_answers_409_with_current_total(api_a, session, shop):
    response = api_a.post(
        "/api/v1/orders",
        headers={"Idempotency-Key": "p1"},
        json={
            "member": "m1",
            "items": [{"listing": shop.id, "quantity": 1}],
            "payment": {"points": 900},
            "expected_total": {"points": 900},
        },
    )
    assert response.status_code == 409
    body = response.get_json()
    assert body["code"] == "price_changed" and body["current_total"]["points"] == 1000


def test_client_cannot_choose_the_price(api_a, session, shop):
    response = api_a.post(
        "/api/v1/orders",
        headers={"Idempotency-Key": "p2"},
        json={
            "member": "m1",
            "items": [{"listing": shop.id, "quantity": 1, "price": 1}],
            "payment": {"points": 1},
        },
    )
    assert response.status_code == 422  # unknown field `price`


def test_sale_price_applies_inside_its_window(api_a, session, partner_a):
    from datetime import timedelta

    from app.core.db import utcnow

    fund(session, partner_a)
    now = utcnow()
    listing = sellable_card_key_listing(
        session,
        partner_a,
        codes=2,
        sale_points=600,
        sale_starts_at=now - timedelta(hours=1),
        sale_ends_at=now + timedelta(hours=1),
    )
    make_member(session, partner_a, "m1", points=10_000)
    response = _order(api_a, listing.id, points=600)
    assert response.status_code == 201
    assert response.get_json()["items"][0]["snapshot"]["member_price"]["source"] == "sale"


def test_renaming_and_repricing_leaves_past_orders_unchanged(
    api_a, platform, session, shop, partner_a
):
    order = _order(api_a, shop.id).get_json()
    product_id = shop.product_id
    platform.patch(
        f"/api/v1/platform/products/{product_id}",
        json={"name": "改名后的产品", "face_value": {"amount": 1}},
    )
    platform.patch(
        f"/api/v1/platform/partners/{partner_a.id}/listings/{shop.id}",
        json={"price_points": 1, "wholesale_minor": 1},
    )
    again = api_a.get(f"/api/v1/orders/{order['id']}").get_json()
    assert again["items"] == order["items"]
    assert again["entitlements"] == order["entitlements"]
    assert again["items"][0]["snapshot"]["face_value"]["amount"] == 2500


def _bundle(session, name: str, components):  # type: ignore[no-untyped-def]
    """A bundle of (product, quantity) components, priced like its first one."""
    return products.create_product(
        session,
        TEST_ACTOR,
        {
            "brand": "组合",
            "name": name,
            "category": "video",
            "fulfillment_type": "card_key",
            "face_value": components[0][0].face_value,
            "status": "active",
            "components": [{"component_id": p.id, "quantity": n} for p, n in components],
        },
    )


def test_bundle_delivers_each_component(api_a, session, partner_a):
    fund(session, partner_a)
    video, music = make_product(session, "优酷"), make_product(session, "网易云音乐")
    stock_codes(session, video, 2)
    stock_codes(session, music, 2)
    bundle = _bundle(session, "影音包", [(video, 1), (music, 1)])
    listing = make_listing(session, partner_a, bundle, points=1500)
    make_member(session, partner_a, "m1", points=10_000)
    response = _order(api_a, listing.id, points=1500)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "fulfilled"
    assert sorted(e["product_id"] for e in body["entitlements"]) == sorted([video.id, music.id])


def test_order_events_and_audit_are_written(api_a, session, shop):
    order = _order(api_a, shop.id).get_json()
    types = set(session.scalars(select(Event.type).where(Event.partner_id == shop.partner_id)))
    assert {"order.created", "order.fulfilled", "entitlement.created"} <= types
    assert (
        session.scalars(select(AuditLog).where(AuditLog.target_id == order["id"])).one().action
        == "order.created"
    )


def test_cancel_refunds_undelivered_units(api_a, session, partner_a):
    fund(session, partner_a, amount_minor=50_000)
    product = make_product(session, "QQ音乐", fulfillment_type="direct_recharge")
    listing = make_listing(session, partner_a, product, points=1500, wholesale_minor=1200)
    make_member(session, partner_a, "m1", points=5000, phone="13912345678")
    order = _order(api_a, listing.id, quantity=2, points=3000).get_json()
    assert session.scalar(select(Member.points_balance).where(Member.external_id == "m1")) == 2000
    cancelled = api_a.post(
        f"/api/v1/orders/{order['id']}/cancel", headers={"Idempotency-Key": "c1"}
    )
    assert cancelled.status_code == 200, cancelled.get_json()
    assert cancelled.get_json()["status"] == "cancelled"
    assert {d["status"] for d in cancelled.get_json()["deliveries"]} == {"cancelled"}
    session.expire_all()
    assert session.scalar(select(Member.points_balance).where(Member.external_id == "m1")) == 5000
    assert session.get_one(PartnerAccount, partner_a.id).balance_minor == 50_000
    again = api_a.post(f"/api/v1/orders/{order['id']}/cancel", headers={"Idempotency-Key": "c2"})
    assert again.status_code == 409 and again.get_json()["code"] == "order_not_cancellable"


def test_fulfilled_card_key_order_cannot_be_cancelled(api_a, shop):
    order = _order(api_a, shop.id).get_json()
    response = api_a.post(f"/api/v1/orders/{order['id']}/cancel", headers={"Idempotency-Key": "c"})
    assert response.status_code == 409


def test_quota_member_daily_orders(api_a, platform, session, shop, partner_a):
    platform.put(f"/api/v1/platform/partners/{partner_a.id}/quota", json={"member_daily_orders": 1})
    assert _order(api_a, shop.id, key="q1").status_code == 201
    before = _counts(session)
    response = _order(api_a, shop.id, key="q2")
    assert response.status_code == 422 and response.get_json()["code"] == "quota_exceeded"
    assert _counts(session) == before
    usage = api_a.get("/api/v1/usage").get_json()
    assert usage["limits"]["member_daily_orders"] == 1
    assert usage["monthly_spend"]["used_minor"] == 0  # no spend cap set: not counted


def test_a_listings_member_monthly_cap_and_the_partners_the_lower_counts(
    api_a, platform, session, shop, partner_a
):
    listing_url = f"/api/v1/platform/partners/{partner_a.id}/listings/{shop.id}"
    platform.patch(listing_url, json={"member_monthly_units": 2})
    platform.put(
        f"/api/v1/platform/partners/{partner_a.id}/quota", json={"member_listing_monthly_units": 3}
    )
    assert _order(api_a, shop.id, key="c1", quantity=2, points=2000).status_code == 201
    refused = _order(api_a, shop.id, key="c2")
    assert refused.status_code == 422 and refused.get_json()["code"] == "quota_exceeded"
    assert _order(api_a, shop.id, member="m2", key="c3").status_code == 404  # no such member
    platform.patch(listing_url, json={"member_monthly_units": None})  # the partner's 3 counts
    assert _order(api_a, shop.id, key="c4").status_code == 201
    assert _order(api_a, shop.id, key="c5").get_json()["code"] == "quota_exceeded"
    entry = api_a.get(f"/api/v1/catalog/{shop.id}").get_json()
    assert entry["member_monthly_units"] is None


def test_monthly_spend_cap(api_a, platform, session, shop, partner_a):
    platform.put(
        f"/api/v1/platform/partners/{partner_a.id}/quota", json={"monthly_spend_cap_minor": 5000}
    )
    assert _order(api_a, shop.id, key="s1", quantity=2, points=2000).status_code == 201
    response = _order(api_a, shop.id, key="s2", quantity=1)
    assert response.get_json()["code"] == "quota_exceeded"
    assert api_a.get("/api/v1/usage").get_json()["monthly_spend"] == {
        "used_minor": 4400,
        "cap_minor": 5000,
    }


def test_an_order_reads_each_of_the_partners_limits_into_its_own_field(session):
    # each cap set to a value of its own
    from app.partners.quotas import QUOTA_FIELDS, Limits, limits_for, set_quota

    partner = make_partner(session, "limits-partner", timezone="Europe/Paris")
    assert limits_for(session, partner.id) == Limits(
        partner.id, "Europe/Paris"
    )  # no quota row: no limits
    set_quota(session, TEST_ACTOR, partner.id, {f: i + 1 for i, f in enumerate(QUOTA_FIELDS)})
    session.commit()
    limits = limits_for(session, partner.id)
    assert [getattr(limits, f) for f in QUOTA_FIELDS] == [1, 2, 3, 4, 5]
    assert limits.timezone == "Europe/Paris"


def test_month_of_an_order_is_the_partners_month(session):
    from datetime import UTC, datetime

    from app.partners.quotas import periods

    partner = make_partner(session, "tz-partner")
    late_november_in_shanghai = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)  # 23:30 CST
    assert periods(partner.timezone, late_november_in_shanghai) == ("2026-11-30", "2026-11")


def test_direct_recharge_capacity_is_consumed_and_returned(api_a, session, partner_a):
    fund(session, partner_a)
    product = make_product(session, "QQ音乐", fulfillment_type="direct_recharge", stock_capacity=2)
    listing = make_listing(session, partner_a, product)
    make_member(session, partner_a, "m1", points=10_000, phone="13912345678")
    first = _order(api_a, listing.id, quantity=2, points=2000, key="cap-1")
    assert first.status_code == 201
    refused = _order(api_a, listing.id, key="cap-2")
    assert refused.status_code == 409 and refused.get_json()["code"] == "out_of_stock"
    api_a.post(
        f"/api/v1/orders/{first.get_json()['id']}/cancel", headers={"Idempotency-Key": "cap-c"}
    )
    assert _order(api_a, listing.id, key="cap-3").status_code == 201


def test_points_plus_cash_needs_the_partners_payment_reference(api_a, session, partner_a):
    fund(session, partner_a)
    listing = sellable_card_key_listing(session, partner_a, codes=2, points=500, cash_minor=990)
    make_member(session, partner_a, "m1", points=10_000)
    body = {
        "member": "m1",
        "items": [{"listing": listing.id, "quantity": 1}],
        "payment": {"points": 500, "cash": {"amount": 990, "currency": "CNY"}},
    }
    missing = api_a.post("/api/v1/orders", json=body, headers={"Idempotency-Key": "cash-1"})
    assert missing.status_code == 422 and missing.get_json()["code"] == "payment_mismatch"
    body["payment"]["cash_payment_ref"] = "bank-pay-778899"
    paid = api_a.post("/api/v1/orders", json=body, headers={"Idempotency-Key": "cash-2"})
    assert paid.status_code == 201
    assert paid.get_json()["total"] == {"points": 500, "cash": {"amount": 990, "currency": "CNY"}}
    assert paid.get_json()["cash_payment_ref"] == "bank-pay-778899"


def test_partner_balance_low_is_announced_once_per_crossing(api_a, platform, session, partner_a):
    listing = sellable_card_key_listing(session, partner_a, codes=5, wholesale_minor=2000)
    make_member(session, partner_a, "m1", points=10_000)
    fund(session, partner_a, amount_minor=7000)
    response = platform.put(
        f"/api/v1/platform/partners/{partner_a.id}/account/credit-limit",
        json={"credit_limit": {"amount": 0}, "low_balance_threshold": {"amount": 4000}},
    )
    assert (
        response.status_code == 200 and response.get_json()["low_balance_threshold_minor"] == 4000
    )

    def low_events() -> int:
        return len(session.scalars(select(Event).where(Event.type == "partner.balance_low")).all())

    _order(api_a, listing.id, key="b1")  # 5000 left: above
    assert low_events() == 0
    _order(api_a, listing.id, key="b2")  # 3000 left: crosses below
    _order(api_a, listing.id, key="b3")  # 1000 left: still below, not again
    assert low_events() == 1
    fund(session, partner_a, amount_minor=10_000)  # back above: re-armed
    _order(api_a, listing.id, key="b4")  # 9000
    _order(api_a, listing.id, key="b5")  # 7000... still above
    assert low_events() == 1
    event = session.scalars(select(Event).where(Event.type == "partner.balance_low")).one()
    assert event.partner_id == partner_a.id and event.data["available"]["amount"] == 3000


def test_cancel_gives_back_only_what_the_order_counted_whatever_the_caps_are_now(
    api_a, platform, session, partner_a
):
    """A member bought 5 units under no cap, then a cap of 1 was set: cancelling must not push
    the counter below zero (it released with the caps in force at cancel time)."""
    fund(session, partner_a)
    product = make_product(session, "QQ音乐", fulfillment_type="direct_recharge")
    listing = make_listing(session, partner_a, product)
    make_member(session, partner_a, "m1", points=10_000, phone="13912345678")
    order = _order(api_a, listing.id, quantity=5, points=5000, key="q-5").get_json()
    platform.put(
        f"/api/v1/platform/partners/{partner_a.id}/quota",
        json={"member_listing_daily_units": 1, "monthly_spend_cap_minor": 1_000_000},
    )
    cancelled = api_a.post(f"/api/v1/orders/{order['id']}/cancel", headers={"Idempotency-Key": "c"})
    assert cancelled.status_code == 200
    counters = session.scalars(
        select(UsageCounter.value).where(UsageCounter.partner_id == partner_a.id)
    ).all()
    assert all(value >= 0 for value in counters), counters
    # and the cap now counts from zero: one unit is allowed, a second is not
    assert _order(api_a, listing.id, key="q-1").status_code == 201
    assert _order(api_a, listing.id, key="q-2").get_json()["code"] == "quota_exceeded"


def test_cancel_gives_back_exactly_the_quota_and_spend_the_order_counted(
    api_a, platform, session, partner_a
):
    fund(session, partner_a)
    product = make_product(session, "QQ音乐", fulfillment_type="direct_recharge")
    listing = make_listing(session, partner_a, product, wholesale_minor=1000)
    make_member(session, partner_a, "m1", points=10_000, phone="13912345678")
    platform.put(
        f"/api/v1/platform/partners/{partner_a.id}/quota",
        json={"member_listing_daily_units": 3, "monthly_spend_cap_minor": 100_000},
    )
    kept = _order(api_a, listing.id, quantity=1, key="keep")
    order = _order(api_a, listing.id, quantity=2, points=2000, key="cancel").get_json()
    assert kept.status_code == 201 and "id" in order
    api_a.post(f"/api/v1/orders/{order['id']}/cancel", headers={"Idempotency-Key": "c"})
    values = dict(
        session.execute(
            select(UsageCounter.key, UsageCounter.value).where(
                UsageCounter.partner_id == partner_a.id
            )
        ).all()
    )
    assert sorted(values.values()) == [1, 1000]  # the kept order's unit and its spend


def test_a_failed_bundle_unit_gives_back_its_direct_recharge_components_capacity(
    api_a, session, partner_a
):
    fund(session, partner_a)
    video = make_product(session, "优酷")
    stock_codes(session, video, 2)
    music = make_product(session, "QQ音乐", fulfillment_type="direct_recharge", stock_capacity=4)
    bundle = _bundle(session, "影音充值包", [(video, 1), (music, 2)])
    listing = make_listing(session, partner_a, bundle, points=1500)
    make_member(session, partner_a, "m1", points=10_000, phone="13912345678")
    order = _order(api_a, listing.id, points=1500).get_json()
    session.expire_all()
    assert session.get_one(type(music), music.id).stock_capacity == 2
    failing = session.scalars(
        select(Delivery).where(Delivery.order_id == order["id"], Delivery.product_id == music.id)
    ).first()
    fail_delivery(session, failing, "every offer failed", utcnow())  # the unit is refunded
    session.commit()
    session.expire_all()
    assert session.get_one(type(music), music.id).stock_capacity == 4


@pytest.mark.parametrize(
    "free",
    [
        {"sale_points": 0, "sale_cash_minor": 0},
        {"sale_points": 0},
        {"tier_prices": {"gold": {"points": 0, "cash": 0}}},
    ],
)
def test_a_sale_or_tier_price_cannot_make_a_listing_free(session, partner_a, free):
    from app.core.errors import ValidationFailed

    product = make_product(session)
    with pytest.raises(ValidationFailed):
        make_listing(session, partner_a, product, **free)


def test_cash_in_another_currency_than_the_price_is_refused(api_a, session, partner_a):
    fund(session, partner_a)
    listing = sellable_card_key_listing(session, partner_a, codes=2, points=500, cash_minor=990)
    make_member(session, partner_a, "m1", points=10_000)
    before = _counts(session)
    body = {
        "member": "m1",
        "items": [{"listing": listing.id, "quantity": 1}],
        "payment": {
            "points": 500,
            "cash": {"amount": 990, "currency": "JPY"},
            "cash_payment_ref": "pay-1",
        },
    }
    answer = api_a.post("/api/v1/orders", json=body, headers={"Idempotency-Key": "jpy"})
    assert answer.status_code == 422 and answer.get_json()["code"] == "payment_mismatch"
    assert _counts(session) == before

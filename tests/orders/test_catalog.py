"""The partner catalog: only sellable listings, this partner's prices and availability."""

from __future__ import annotations

from datetime import timedelta

from app.supply import stock, suppliers
from tests.factories import (
    TEST_ACTOR,
    fund,
    make_listing,
    make_member,
    make_product,
    sellable_card_key_listing,
    stock_codes,
)


def _ids(api, query: str = "") -> list[str]:
    response = api.get("/api/v1/catalog" + query)
    assert response.status_code == 200, response.get_json()
    return [e["id"] for e in response.get_json()["data"]]


def test_lapsed_or_inactive_products_never_appear(api_a, platform, session, partner_a):
    listing = sellable_card_key_listing(session, partner_a, codes=1)
    assert listing.id in _ids(api_a)
    suppliers.refresh_availability(
        session, TEST_ACTOR, suppliers.platform_today() + timedelta(days=400)
    )
    session.commit()
    assert listing.id not in _ids(api_a)
    assert api_a.get(f"/api/v1/catalog/{listing.id}").status_code == 404
    suppliers.refresh_availability(session, TEST_ACTOR)
    session.commit()
    assert listing.id in _ids(api_a)
    platform.patch(f"/api/v1/platform/products/{listing.product_id}", json={"status": "inactive"})
    assert listing.id not in _ids(api_a)


def test_hidden_listing_does_not_appear(api_a, platform, session, partner_a):
    listing = sellable_card_key_listing(session, partner_a, codes=1)
    platform.patch(
        f"/api/v1/platform/partners/{partner_a.id}/listings/{listing.id}",
        json={"is_visible": False},
    )
    assert listing.id not in _ids(api_a)


def test_filters_and_stock(api_a, session, partner_a):
    in_stock = sellable_card_key_listing(session, partner_a, codes=2)
    empty = sellable_card_key_listing(session, partner_a, codes=0)
    music = make_listing(
        session,
        partner_a,
        make_product(
            session, "QQ音乐", "QQ音乐绿钻", category="music", fulfillment_type="direct_recharge"
        ),
    )
    assert set(_ids(api_a, "?in_stock=true")) == {in_stock.id, music.id}
    assert _ids(api_a, "?in_stock=false") == [empty.id]
    assert _ids(api_a, "?category=music") == [music.id]
    assert _ids(api_a, "?fulfillment_type=direct_recharge") == [music.id]
    assert _ids(api_a, "?q=绿钻") == [music.id]
    entry = api_a.get(f"/api/v1/catalog/{music.id}").get_json()
    assert (
        entry["available"] is None
        and entry["in_stock"]
        and entry["recharge_account_kind"] == "phone"
    )


def test_availability_counts_this_partners_allocation(api_a, session, partner_a, partner_b):
    product = make_product(session)
    stock_codes(session, product, 5)
    stock.create_allocation(session, TEST_ACTOR, product, partner_b.id, 4, True)
    session.commit()
    listing = make_listing(session, partner_a, product)
    assert api_a.get(f"/api/v1/catalog/{listing.id}").get_json()["available"] == 1


def test_order_list_filters(api_a, session, partner_a):
    fund(session, partner_a)
    listing = sellable_card_key_listing(session, partner_a, codes=3)
    make_member(session, partner_a, "x1", points=5000)
    make_member(session, partner_a, "x2", points=5000)
    from tests.factories import place

    mine = place(session, partner_a, make_member(session, partner_a, "x1"), listing)
    place(session, partner_a, make_member(session, partner_a, "x2"), listing)
    assert [o["id"] for o in api_a.get("/api/v1/orders?member=x1").get_json()["data"]] == [mine.id]
    assert len(api_a.get("/api/v1/orders?status=fulfilled").get_json()["data"]) == 2
    assert api_a.get("/api/v1/orders?status=cancelled").get_json()["data"] == []
    future = (mine.created_at + timedelta(days=1)).isoformat()
    assert (
        api_a.get("/api/v1/orders", query_string={"created_from": future}).get_json()["data"] == []
    )


def test_reveal_is_rate_limited(api_a, session, partner_a):
    fund(session, partner_a)
    listing = sellable_card_key_listing(session, partner_a, codes=1)
    from tests.factories import place

    order = place(session, partner_a, make_member(session, partner_a, "r1", points=5000), listing)
    entitlement_id = order.entitlements[0].id
    statuses = [
        api_a.post(f"/api/v1/entitlements/{entitlement_id}/reveal").status_code for _ in range(31)
    ]
    assert statuses[:30] == [200] * 30 and statuses[30] == 429

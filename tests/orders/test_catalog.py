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
    other = sellable_card_key_listing(session, partner_a, codes=1)
    theirs = place(session, partner_a, make_member(session, partner_a, "x2"), other)
    by_product = api_a.get(f"/api/v1/orders?product={other.product_id}").get_json()["data"]
    assert [o["id"] for o in by_product] == [theirs.id]
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


def test_instructions_and_terms_reach_the_catalog_in_both_locales(
    api_a, platform, session, partner_a
):
    listing = sellable_card_key_listing(session, partner_a, codes=1)
    texts = {
        "instructions": {"zh-CN": "打开App输入卡密", "en": "Enter the code in the app"},
        "terms": {"zh-CN": "不退不换", "en": "No returns"},
    }
    changed = platform.patch(f"/api/v1/platform/products/{listing.product_id}", json=texts)
    assert changed.status_code == 200, changed.get_json()
    entry = api_a.get(f"/api/v1/catalog/{listing.id}").get_json()
    assert (entry["instructions"], entry["terms"]) == (texts["instructions"], texts["terms"])
    refused = platform.patch(
        f"/api/v1/platform/products/{listing.product_id}", json={"terms": {"fr": "Non"}}
    )
    assert refused.status_code == 422 and "terms" in refused.get_json()["errors"]


def test_categories_and_brands_count_this_partners_sellable_listings(
    api_a, platform, session, partner_a, partner_b
):
    for brand, category in (("优酷", "video"), ("优酷", "video"), ("网易云音乐", "music")):
        product = make_product(session, brand, category=category)
        stock_codes(session, product, 1)
        make_listing(session, partner_a, product)
    hidden = make_listing(session, partner_a, make_product(session, "爱奇艺", category="video"))
    platform.patch(
        f"/api/v1/platform/partners/{partner_a.id}/listings/{hidden.id}",
        json={"is_visible": False},
    )
    make_listing(session, partner_b, make_product(session, "腾讯视频", category="video"))

    categories = api_a.get("/api/v1/catalog/categories").get_json()["data"]
    assert categories == [{"name": "music", "listings": 1}, {"name": "video", "listings": 2}]
    brands = api_a.get("/api/v1/catalog/brands").get_json()["data"]
    assert brands == [{"name": "优酷", "listings": 2}, {"name": "网易云音乐", "listings": 1}]


def test_sorted_catalog_pages_cover_every_listing_once_in_order(api_a, session, partner_a):
    made = [
        make_listing(session, partner_a, make_product(session, name=name), points=points)
        for name, points in (("b", 300), ("a", 100), ("d", 300), ("c", 200), ("e", 50))
    ]
    by_id = {listing.id: listing for listing in made}

    def walk(sort: str) -> list[str]:
        seen, cursor = [], None
        while True:
            query = f"?sort={sort}&limit=2" + (f"&cursor={cursor}" if cursor else "")
            page = api_a.get("/api/v1/catalog" + query)
            assert page.status_code == 200, page.get_json()
            seen += [e["id"] for e in page.get_json()["data"]]
            cursor = page.get_json()["next_cursor"]
            if not cursor:
                return seen

    ascending = walk("price_asc")
    assert sorted(ascending) == sorted(by_id) and len(set(ascending)) == 5
    assert [by_id[i].price_points for i in ascending] == [50, 100, 200, 300, 300]
    assert [by_id[i].price_points for i in walk("price_desc")] == [300, 300, 200, 100, 50]
    assert [by_id[i].product.name for i in walk("name")] == ["a", "b", "c", "d", "e"]
    assert api_a.get("/api/v1/catalog?sort=cheapest").status_code == 422
    newest_cursor = api_a.get("/api/v1/catalog?limit=1").get_json()["next_cursor"]
    wrong = api_a.get(f"/api/v1/catalog?sort=name&cursor={newest_cursor}")
    assert wrong.status_code == 422 and wrong.get_json()["code"] == "validation_error"

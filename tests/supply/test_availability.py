"""A product is sellable only while an active supplier holds a valid authorization for it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.core.audit import AuditLog
from app.supply import products, suppliers
from app.webhooks.outbox import events_of_type
from tests.factories import TEST_ACTOR, make_authorization, make_product, make_supplier


def test_lapsed_authorization_makes_product_unavailable_and_renewal_restores_it(session):
    supplier = make_supplier(session, "Lapsing Supplier")
    today = suppliers.platform_today()
    product = make_product(session, "爱奇艺", supplier=supplier, authorize=False)
    make_authorization(session, supplier, "爱奇艺", valid_until=today + timedelta(days=2))
    assert product.is_authorized and suppliers.is_sellable(product)

    changed = suppliers.refresh_availability(session, TEST_ACTOR, today + timedelta(days=3))
    session.commit()
    assert changed == [product.id]
    assert not product.is_authorized
    (event,) = events_of_type(session, "supply.authorization_lapsed")
    assert event.data["product_id"] == product.id and event.partner_id is None
    audit = session.scalars(
        select(AuditLog).where(
            AuditLog.target_id == product.id, AuditLog.action == "supply.authorization_lapsed"
        )
    ).one()
    assert audit.after["is_authorized"] is False

    make_authorization(
        session, supplier, "爱奇艺", valid_from=today, valid_until=today + timedelta(days=400)
    )
    suppliers.refresh_availability(session, TEST_ACTOR, today + timedelta(days=3))
    assert product.is_authorized
    assert len(events_of_type(session, "supply.authorization_lapsed")) == 1  # once per lapse


def test_authorization_must_cover_the_brand_and_category(session):
    supplier = make_supplier(session, "Narrow Supplier")
    product = make_product(session, "QQ音乐", supplier=supplier, authorize=False, category="music")
    make_authorization(session, supplier, "QQ音乐", scope_categories=["video"])
    assert not product.is_authorized
    make_authorization(session, supplier, "Other Brand", scope_brands=["qq音乐"])
    assert product.is_authorized


def test_suspended_supplier_or_revoked_authorization_stops_sales(platform, session):
    product = make_product(session, "Keep")
    supplier_id = product.offers[0].supplier_id
    response = platform.patch(
        f"/api/v1/platform/suppliers/{supplier_id}", json={"status": "suspended"}
    )
    assert response.status_code == 200
    session.refresh(product)
    assert not product.is_authorized
    platform.patch(f"/api/v1/platform/suppliers/{supplier_id}", json={"status": "active"})
    session.refresh(product)
    assert product.is_authorized
    authorization = suppliers.list_authorizations(session, 10, None, supplier_id=supplier_id).data[
        0
    ]
    platform.patch(f"/api/v1/platform/authorizations/{authorization.id}", json={"revoked": True})
    session.refresh(product)
    assert not product.is_authorized


def test_bundle_is_available_only_while_every_component_is(session):
    video = make_product(session, "优酷")
    music = make_product(session, "网易云音乐", authorize=False, category="music")
    bundle = products.create_product(
        session,
        TEST_ACTOR,
        {
            "brand": "组合",
            "name": "影音包",
            "category": "video",
            "fulfillment_type": "card_key",
            "face_value": video.face_value,
            "status": "active",
            "components": [
                {"component_id": video.id, "quantity": 1},
                {"component_id": music.id, "quantity": 1},
            ],
        },
    )
    assert not bundle.is_authorized
    make_authorization(session, music.offers[0].supplier, "网易云音乐")
    assert bundle.is_authorized


def test_expiring_authorizations_endpoint(platform, session):
    supplier = make_supplier(session, "Expiry Supplier")
    today = suppliers.platform_today()
    soon = make_authorization(session, supplier, "WPS", valid_until=today + timedelta(days=10))
    make_authorization(session, supplier, "WPS", valid_until=today + timedelta(days=100))
    make_authorization(session, supplier, "WPS", valid_until=today - timedelta(days=1))
    response = platform.get("/api/v1/platform/authorizations?expiring_within_days=30&brand=wps")
    assert [a["id"] for a in response.get_json()["data"]] == [soon.id]


def test_direct_recharge_product_needs_an_account_kind(platform):
    body = {
        "brand": "QQ音乐",
        "name": "绿钻",
        "category": "music",
        "fulfillment_type": "direct_recharge",
        "face_value": {"amount": 1500, "currency": "CNY"},
    }
    response = platform.post("/api/v1/platform/products", json=body)
    assert response.status_code == 422
    assert "recharge_account_kind" in response.get_json()["errors"]
    response = platform.post(
        "/api/v1/platform/products", json={**body, "recharge_account_kind": "qq"}
    )
    assert response.status_code == 201
    assert response.get_json()["is_authorized"] is False  # no offer yet


def test_bundle_components_are_validated(platform, session):
    video = make_product(session)
    body = {
        "brand": "组合",
        "name": "坏包",
        "category": "video",
        "fulfillment_type": "card_key",
        "face_value": {"amount": 1, "currency": "CNY"},
        "components": [{"product": video.id}, {"product": "prd_00000000000000000000000000"}],
    }
    response = platform.post("/api/v1/platform/products", json=body)
    assert response.status_code == 422
    assert "components" in response.get_json()["errors"]


def test_mainland_mobile_number_rule():
    assert products.recharge_account_error("phone", "13912345678") is None
    for bad in ("12912345678", "1391234567", "139123456789", "+8613912345678", "", None):
        assert products.recharge_account_error("phone", bad)

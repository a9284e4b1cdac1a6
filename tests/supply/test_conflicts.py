"""A second row where one must be unique is a 409 problem with a code, never a 500 or 503."""

from __future__ import annotations

from tests.factories import make_product, make_supplier


def test_the_same_offer_twice_is_a_409(platform, session):
    supplier = make_supplier(session, "Twice Supplier")
    product = make_product(session, supplier=supplier)
    body = {"supplier_id": supplier.id, "supplier_sku": "SKU-1", "cost": {"amount": 100}}
    answer = platform.post(f"/api/v1/platform/products/{product.id}/offers", json=body)
    assert answer.status_code == 409, answer.get_json()
    assert answer.mimetype == "application/problem+json"
    assert answer.get_json()["code"] == "already_exists"


def test_renaming_a_supplier_to_a_taken_name_is_a_409(platform, session):
    make_supplier(session, "Taken Name")
    other = make_supplier(session, "Other Name")
    answer = platform.patch(f"/api/v1/platform/suppliers/{other.id}", json={"name": "Taken Name"})
    assert answer.status_code == 409, answer.get_json()
    assert answer.get_json()["code"] in ("already_exists", "supplier_exists", "conflict")


def test_an_offer_of_a_recharge_cannot_be_active_while_its_supplier_has_no_credentials(
    platform, session
):
    bare = make_supplier(session, "Bare Supplier", credentials=None)
    product = make_product(session, "QQ音乐", fulfillment_type="direct_recharge")
    body = {"supplier_id": bare.id, "supplier_sku": "Q-1", "cost": {"amount": 100}}
    answer = platform.post(f"/api/v1/platform/products/{product.id}/offers", json=body)
    assert answer.status_code == 422
    assert answer.get_json()["code"] == "supplier_credentials_missing"
    paused = platform.post(
        f"/api/v1/platform/products/{product.id}/offers", json={**body, "status": "paused"}
    )
    assert paused.status_code == 201, paused.get_json()
    activated = platform.patch(
        f"/api/v1/platform/products/{product.id}/offers/{paused.get_json()['id']}",
        json={"status": "active"},
    )
    assert activated.status_code == 422

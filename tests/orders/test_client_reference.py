"""The partner's own order number (`client_reference`) and metadata on orders: echoed, listed
by, unique per partner for ever (unlike the 24 h Idempotency-Key), and a second order with a
used reference is refused with the first order's id, charging nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from app.core.idempotency import IdempotencyRecord
from app.members.models import Member
from tests.factories import fund, make_member, sellable_card_key_listing


@pytest.fixture
def shop(session, partner_a):
    fund(session, partner_a)
    listing = sellable_card_key_listing(session, partner_a, codes=5)
    make_member(session, partner_a, "m-1", points=10_000)
    return listing


def _order(api, listing, key: str, **extra):
    body = {
        "member": "m-1",
        "items": [{"listing": listing.id, "quantity": 1}],
        "payment": {"points": listing.price_points},
        **extra,
    }
    return api.post("/api/v1/orders", json=body, headers={"Idempotency-Key": key})


def test_reference_and_metadata_are_kept_and_listable(api_a, shop):
    placed = _order(api_a, shop, "k1", client_reference="PO-2026-0001", metadata={"branch": "sh"})
    assert placed.status_code == 201, placed.get_json()
    order = placed.get_json()
    assert order["client_reference"] == "PO-2026-0001" and order["metadata"] == {"branch": "sh"}
    _order(api_a, shop, "k2", client_reference="PO-2026-0002")

    listed = api_a.get("/api/v1/orders?client_reference=PO-2026-0001").get_json()["data"]
    assert [o["id"] for o in listed] == [order["id"]]
    assert listed[0]["metadata"] == {"branch": "sh"}
    assert api_a.get(f"/api/v1/orders/{order['id']}").get_json()["client_reference"] == (
        "PO-2026-0001"
    )


def test_a_used_reference_is_refused_with_the_orders_id_and_charges_nothing(api_a, shop, session):
    first = _order(api_a, shop, "k1", client_reference="PO-7").get_json()
    balance = session.query(Member).filter_by(external_id="m-1").one().points_balance

    again = _order(api_a, shop, "k2", client_reference="PO-7")
    assert again.status_code == 409
    problem = again.get_json()
    assert problem["code"] == "client_reference_used" and problem["order_id"] == first["id"]
    session.expire_all()
    assert session.query(Member).filter_by(external_id="m-1").one().points_balance == balance


def test_the_reference_outlives_the_idempotency_window(api_a, shop, session):
    first = _order(api_a, shop, "k1", client_reference="PO-9").get_json()
    assert _order(api_a, shop, "k1", client_reference="PO-9").get_json()["id"] == first["id"]
    session.execute(delete(IdempotencyRecord))  # the 24 h window has passed
    session.commit()
    replayed = _order(api_a, shop, "k1", client_reference="PO-9")
    assert replayed.status_code == 409 and replayed.get_json()["order_id"] == first["id"]


def test_each_partner_has_its_own_references(api_a, api_b, shop, session, partner_b):
    fund(session, partner_b)
    listing_b = sellable_card_key_listing(session, partner_b, codes=2)
    make_member(session, partner_b, "m-1", points=10_000)
    assert _order(api_a, shop, "k", client_reference="SAME").status_code == 201
    assert _order(api_b, listing_b, "k", client_reference="SAME").status_code == 201
    assert len(api_b.get("/api/v1/orders?client_reference=SAME").get_json()["data"]) == 1


@pytest.mark.parametrize(
    "extra",
    [
        {"client_reference": ""},
        {"client_reference": " PO-1"},
        {"client_reference": "x" * 65},
        {"metadata": {f"k{i}": "v" for i in range(21)}},
        {"metadata": {"k": {"nested": "no"}}},
        {"metadata": {"k" * 41: "v"}},
        {"metadata": {"k": "v" * 501}},
    ],
)
def test_bad_references_and_metadata_are_422(api_a, shop, extra):
    refused = _order(api_a, shop, "bad", **extra)
    assert refused.status_code == 422, refused.get_json()
    assert refused.get_json()["code"] == "validation_error"

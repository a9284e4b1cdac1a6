"""The authorization chain at delivery: each offer serves only under its own supplier's valid
authorization for the goods, in the partner's region, and not against another supplier's
exclusivity; card-key batches name their offer and are checked when imported; every
entitlement records where it came from."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.core.db import utcnow
from app.core.money import Money
from app.entitlements.models import Entitlement
from app.fulfillment.models import Delivery
from app.fulfillment.service import apply_report, begin_submission
from app.fulfillment.suppliers.base import SUCCESS, StatusReport
from app.supply import imports, products, stock
from app.supply.errors import CodeImportRejected, OutOfStock
from tests.factories import (
    TEST_ACTOR,
    code_rows,
    fund,
    make_authorization,
    make_listing,
    make_member,
    make_partner,
    make_product,
    make_supplier,
    place,
    sellable_card_key_listing,
    vault_for_tests,
)

BRAND = "芒果TV"


def _add_offer(session, product, supplier, priority: int):
    offer = products.create_offer(
        session,
        TEST_ACTOR,
        product,
        supplier,
        {"supplier_sku": f"S-{priority}", "cost": Money(1000), "priority": priority},
    )
    session.commit()
    return offer


def _recharge_with(session, partner, *offers):
    """A recharge product offered by (supplier, authorization overrides or None) in priority
    order; returns the suppliers and the delivery of one placed unit."""
    suppliers = [make_supplier(session, f"Chain {i}") for i in range(len(offers))]
    product = make_product(
        session,
        BRAND,
        fulfillment_type="direct_recharge",
        supplier=suppliers[0],
        authorize=False,
    )
    for i, (supplier, authorization) in enumerate(zip(suppliers, offers, strict=True)):
        if i:
            _add_offer(session, product, supplier, 10 + i * 10)
        if authorization is not None:
            make_authorization(session, supplier, BRAND, **authorization)
    fund(session, partner)
    member = make_member(session, partner, "m1", points=10_000, phone="13912345678")
    order = place(session, partner, member, make_listing(session, partner, product))
    delivery = session.scalars(select(Delivery).where(Delivery.order_id == order.id)).one()
    return suppliers, delivery


def _sent_to(session, delivery):
    submission = begin_submission(session, delivery.id, utcnow())
    return submission.supplier_id if submission else None


def test_an_unauthorized_supplier_with_a_better_priority_gets_nothing(session, partner_a):
    (_unauthorized, authorized), delivery = _recharge_with(session, partner_a, None, {})
    assert _sent_to(session, delivery) == authorized.id
    authorization_id = session.get_one(Delivery, delivery.id).authorization_id
    assert authorization_id is not None
    report = StatusReport(delivery.id, SUCCESS, "SO-1")
    assert apply_report(session, delivery.id, authorized.id, report, utcnow()) == "delivered"
    entitlement = session.scalars(
        select(Entitlement).where(Entitlement.delivery_id == delivery.id)
    ).one()
    assert entitlement.provenance == {
        "supplier_id": authorized.id,
        "offer_id": session.get_one(Delivery, delivery.id).offer_id,
        "supplier_order_no": "SO-1",
        "batch_id": None,
        "authorization_id": authorization_id,
        "contract_ref": f"C-{BRAND}",
    }


def test_an_authorization_of_another_region_does_not_serve(session, partner_a):
    (_hk, _cn_too), delivery = _recharge_with(
        session, partner_a, {"region": "HK"}, {"region": "HK"}
    )
    assert _sent_to(session, delivery) is None  # the CN partner's unit fails, refunded
    assert session.get_one(Delivery, delivery.id).status == "failed"


def test_a_global_authorization_serves_every_region(session, partner_a):
    (global_, _), delivery = _recharge_with(session, partner_a, {"region": "GLOBAL"}, None)
    assert _sent_to(session, delivery) == global_.id


def test_another_suppliers_exclusivity_passes_over_the_others(session, partner_a):
    (_first, exclusive), delivery = _recharge_with(session, partner_a, {}, {"is_exclusive": True})
    assert _sent_to(session, delivery) == exclusive.id


def test_a_batch_must_name_an_authorized_offer_of_its_product(session):
    product = make_product(session, BRAND)
    other = make_product(session, BRAND)
    for offer_id in (None, other.offers[0].id):
        with pytest.raises(CodeImportRejected):
            imports.import_codes(
                session, TEST_ACTOR, vault_for_tests(), product, code_rows(1), offer_id=offer_id
            )
    bare = make_product(session, "无授权品牌", authorize=False)
    with pytest.raises(CodeImportRejected) as refused:
        imports.import_codes(
            session, TEST_ACTOR, vault_for_tests(), bare, code_rows(1), offer_id=bare.offers[0].id
        )
    assert "authorization" in refused.value.lines[0]["message"]


def test_a_card_key_entitlement_records_its_provenance(session, partner_a):
    fund(session, partner_a)
    listing = sellable_card_key_listing(session, partner_a, codes=1)
    order = place(session, partner_a, make_member(session, partner_a, "m1", points=5000), listing)
    session.expire_all()
    entitlement = session.scalars(select(Entitlement).where(Entitlement.order_id == order.id)).one()
    offer = listing.product.offers[0]
    assert entitlement.provenance["offer_id"] == offer.id
    assert entitlement.provenance["supplier_id"] == offer.supplier_id
    assert entitlement.provenance["batch_id"] and entitlement.provenance["authorization_id"]
    assert entitlement.provenance["contract_ref"] == f"C-{listing.product.brand}"


def test_card_keys_bought_for_another_region_are_not_sold_to_this_one(session, partner_a):
    """A batch bought under an HK-only authorization serves HK partners, never CN ones."""
    hk_supplier = make_supplier(session, "HK Only")
    product = make_product(session, BRAND, supplier=hk_supplier, authorize=False)
    make_authorization(session, hk_supplier, BRAND, region="HK")
    imports.import_codes(
        session, TEST_ACTOR, vault_for_tests(), product, code_rows(2), offer_id=product.offers[0].id
    )
    session.commit()
    assert stock.available_for_partner(session, product, partner_a.id) == 0
    with pytest.raises(OutOfStock):
        stock.allocate_codes(session, product, partner_a.id, 1)
    session.rollback()
    hk_partner = make_partner(session, "hk-partner", region="HK")
    assert stock.available_for_partner(session, product, hk_partner.id) == 2
    assert len(stock.allocate_codes(session, product, hk_partner.id, 2)) == 2

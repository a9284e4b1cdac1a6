"""`allocate_codes`: exactly N codes or OutOfStock; channel allocations; low-stock events."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.core.db import utcnow
from app.extensions import db
from app.supply import imports, products, stock
from app.supply.errors import OutOfStock, SupplyConflict
from app.supply.models import Allocation, Code
from app.webhooks.outbox import events_of_type
from tests.factories import TEST_ACTOR, make_partner, make_product, stock_codes


def test_returns_exactly_quantity_reserved_codes(session, partner_a):
    product = make_product(session)
    stock_codes(session, product, 5)
    codes = stock.allocate_codes(session, product, partner_a.id, 3)
    assert len({c.id for c in codes}) == 3
    assert {c.status for c in codes} == {"reserved"}
    assert {c.reserved_for_partner_id for c in codes} == {partner_a.id}


def test_out_of_stock_takes_nothing(session, partner_a):
    product = make_product(session)
    stock_codes(session, product, 2)
    session.commit()
    with pytest.raises(OutOfStock):
        stock.allocate_codes(session, product, partner_a.id, 3)
    session.rollback()
    assert stock.available_for_partner(session, product, partner_a.id) == 2


def test_expired_and_voided_codes_are_never_allocated(session, partner_a):
    product = make_product(session)
    stock_codes(session, product, 2, expires_at=utcnow() - timedelta(minutes=1))
    voided = stock_codes(session, product, 2)
    imports.void_batch(session, TEST_ACTOR, voided)
    fresh = stock_codes(session, product, 1)
    assert stock.available_for_partner(session, product, partner_a.id) == 1
    (code,) = stock.allocate_codes(session, product, partner_a.id, 1)
    assert code.batch_id == fresh.id
    with pytest.raises(OutOfStock):
        stock.allocate_codes(session, product, partner_a.id, 1)


def test_soonest_expiring_codes_go_first(session, partner_a):
    product = make_product(session)
    stock_codes(session, product, 1, expires_at=utcnow() + timedelta(days=300))
    soon = stock_codes(session, product, 1, expires_at=utcnow() + timedelta(days=3))
    (code,) = stock.allocate_codes(session, product, partner_a.id, 1)
    assert code.batch_id == soon.id


def test_exclusive_allocation_is_out_of_reach_of_other_partners(
    platform, session, partner_a, partner_b
):
    product = make_product(session)
    stock_codes(session, product, 5)
    response = platform.post(
        f"/api/v1/platform/products/{product.id}/allocations",
        json={"partner_id": partner_a.id, "quantity": 3, "is_exclusive": True},
    )
    assert response.status_code == 201
    assert stock.available_for_partner(session, product, partner_b.id) == 2
    assert stock.available_for_partner(session, product, partner_a.id) == 3
    stock.allocate_codes(session, product, partner_b.id, 2)
    with pytest.raises(OutOfStock):
        stock.allocate_codes(session, product, partner_b.id, 1)
    codes = stock.allocate_codes(session, product, partner_a.id, 3)
    assert {c.allocation_id for c in codes} == {response.get_json()["id"]}
    with pytest.raises(OutOfStock):  # exclusive: never the shared pool
        stock.allocate_codes(session, product, partner_a.id, 1)


def test_non_exclusive_allocation_draws_own_units_then_the_shared_pool(
    session, partner_a, partner_b
):
    product = make_product(session)
    stock_codes(session, product, 4)
    allocation = stock.create_allocation(session, TEST_ACTOR, product, partner_a.id, 2, False)
    codes = stock.allocate_codes(session, product, partner_a.id, 3)
    assert sorted(c.allocation_id or "" for c in codes) == ["", allocation.id, allocation.id]
    stock.allocate_codes(session, product, partner_b.id, 1)
    assert stock.available_for_partner(session, product, partner_b.id) == 0


def test_releasing_an_allocation_returns_its_units(platform, session, partner_a, partner_b):
    product = make_product(session)
    stock_codes(session, product, 3)
    allocation = stock.create_allocation(session, TEST_ACTOR, product, partner_a.id, 3, True)
    session.commit()
    assert stock.available_for_partner(session, product, partner_b.id) == 0
    response = platform.post(f"/api/v1/platform/allocations/{allocation.id}/release")
    assert response.get_json()["status"] == "released"
    assert stock.available_for_partner(session, product, partner_b.id) == 3
    summary = platform.get(f"/api/v1/platform/products/{product.id}/stock").get_json()
    assert summary["shared"] == 3 and summary["allocations"] == []


def test_cannot_allocate_more_than_the_shared_pool(platform, session, partner_a):
    product = make_product(session)
    stock_codes(session, product, 2)
    response = platform.post(
        f"/api/v1/platform/products/{product.id}/allocations",
        json={"partner_id": partner_a.id, "quantity": 3},
    )
    assert response.status_code == 409
    assert response.get_json()["code"] == "out_of_stock"


def test_one_active_allocation_per_partner_and_product_even_when_two_race(session, partner_a):
    """The database's unique index refuses a second active allocation (no read first that a
    concurrent creation could slip past): 409, and the caller's transaction goes on."""
    product = make_product(session)
    stock_codes(session, product, 4)
    first = stock.create_allocation(session, TEST_ACTOR, product, partner_a.id, 1, False)
    session.commit()
    with pytest.raises(SupplyConflict):
        stock.create_allocation(session, TEST_ACTOR, product, partner_a.id, 1, False)
    with pytest.raises(SupplyConflict):
        stock.create_allocation(session, TEST_ACTOR, product, partner_a.id, 1, True)
    session.commit()  # the savepoint was rolled back, not the transaction
    assert session.scalars(
        select(Allocation.id).where(Allocation.partner_id == partner_a.id)
    ).all() == [first.id]
    stock.release_allocation(session, TEST_ACTOR, first)  # a released one leaves room
    again = stock.create_allocation(session, TEST_ACTOR, product, partner_a.id, 1, False)
    session.commit()
    assert again.status == "active"


def test_stock_low_is_emitted_once_per_crossing(session, partner_a):
    product = make_product(session, low_stock_threshold=2)
    stock_codes(session, product, 5)
    for _ in range(5):
        stock.allocate_codes(session, product, partner_a.id, 1)
    assert len(events_of_type(session, "stock.low")) == 1
    stock_codes(session, product, 10)  # restocked: re-armed
    session.refresh(product)
    assert product.is_low_stock is False
    for _ in range(8):
        stock.allocate_codes(session, product, partner_a.id, 1)
    assert len(events_of_type(session, "stock.low")) == 2


@pytest.mark.postgres
def test_fifty_threads_racing_for_twenty_codes(app):
    session = db.session()
    partner = make_partner(session, "race-partner")
    product = make_product(session)
    stock_codes(session, product, 20)
    product_id, partner_id = product.id, partner.id
    db.session.remove()
    barrier = threading.Barrier(50)
    won: list[str] = []
    lost: list[str] = []
    errors: list[BaseException] = []

    def buyer() -> None:
        try:
            with app.app_context():
                barrier.wait()
                with db.transaction() as s:
                    product_row = products.get_product(s, product_id)
                    codes = stock.allocate_codes(s, product_row, partner_id, 1)
                    won.extend(c.id for c in codes)
        except OutOfStock:
            lost.append("out")
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)
        finally:
            db.session.remove()

    threads = [threading.Thread(target=buyer) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(won) == 20 and len(set(won)) == 20
    assert len(lost) == 30
    check = db.session()
    reserved = check.scalars(select(Code.id).where(Code.status == "reserved")).all()
    assert sorted(reserved) == sorted(won)


def test_availability_of_a_page_counts_each_pool_up_to_the_cap(session, partner_a, monkeypatch):
    """Own allocation plus shared pool, per product, in one call; deep stock reads the cap."""
    deep, shallow, empty = make_product(session), make_product(session), make_product(session)
    stock_codes(session, deep, 6)
    stock_codes(session, shallow, 4)
    stock.create_allocation(session, TEST_ACTOR, shallow, partner_a.id, 2, False)
    session.commit()
    monkeypatch.setattr(stock, "AVAILABLE_CAP", 5)
    counts = stock.availability(session, [deep, shallow, empty], partner_a.id)
    assert counts == {deep.id: 5, shallow.id: 4, empty.id: 0}

"""Real concurrent clients on PostgreSQL, through the HTTP stack: no oversell, no double
charge, no cap exceeded, ledgers reconcile to the unit."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from app.accounts.models import AccountEntry, PartnerAccount
from app.core.audit import AuditLog
from app.entitlements.models import Entitlement
from app.extensions import db
from app.invariants import ledger_problems
from app.members.models import Member, PointsEntry
from app.orders.models import Order
from app.partners.quotas import set_quota
from app.supply.models import Code, Product
from tests.factories import (
    TEST_ACTOR,
    ApiUser,
    fund,
    make_client,
    make_listing,
    make_member,
    make_partner,
    make_product,
    place,
    sellable_card_key_listing,
)

pytestmark = pytest.mark.postgres


def _race(app, token: str, bodies: list[tuple[dict, str]]) -> list[tuple[int, str | None]]:
    return _race_posts(app, token, [("/api/v1/orders", body, key) for body, key in bodies])


def _race_posts(
    app, token: str, posts: list[tuple[str, dict | None, str]]
) -> list[tuple[int, str | None]]:
    """POST each (path, body, idempotency key) from its own thread, all released at once."""
    barrier = threading.Barrier(len(posts))
    results: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def one(path: str, body: dict | None, key: str) -> None:
        http = app.test_client()
        barrier.wait()
        response = http.post(
            path,
            json=body,
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
        )
        payload = response.get_json()
        with lock:
            results.append(
                (response.status_code, payload.get("code") if response.status_code >= 400 else None)
            )

    threads = [threading.Thread(target=one, args=post) for post in posts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    db.session.remove()
    return results


def _setup(app, codes: int, members: int, points: int = 1000, **listing_kwargs):
    session = db.session()
    partner = make_partner(session, "race-shop")
    fund(session, partner, amount_minor=10_000_000)
    listing = sellable_card_key_listing(session, partner, codes=codes, **listing_kwargs)
    for i in range(members):
        make_member(session, partner, f"m{i:03d}", points=points)
    token = ApiUser.login(app.test_client(), make_client(session, partner)).token
    ids = (partner.id, listing.id)
    db.session.remove()
    return ids, token


def _body(member: str, listing_id: str) -> dict:
    return {
        "member": member,
        "items": [{"listing": listing_id, "quantity": 1}],
        "payment": {"points": 1000},
    }


def test_two_hundred_members_fifty_codes(app):
    (partner_id, listing_id), token = _setup(app, codes=50, members=200)
    results = _race(app, token, [(_body(f"m{i:03d}", listing_id), f"k{i}") for i in range(200)])
    counts = Counter(results)
    assert counts[(201, None)] == 50, counts
    assert counts[(409, "out_of_stock")] == 150, counts

    session = db.session()
    fulfilled = session.scalars(select(Order).where(Order.partner_id == partner_id)).all()
    assert len(fulfilled) == 50 and {o.status for o in fulfilled} == {"fulfilled"}
    sold = session.scalars(select(Code.id).where(Code.status == "sold")).all()
    assert len(sold) == len(set(sold)) == 50
    members = session.scalars(select(Member).where(Member.partner_id == partner_id)).all()
    assert sum(1000 - m.points_balance for m in members) == 50 * 1000
    for m in members:  # every member's ledger sums to its balance
        total = session.scalar(
            select(func.sum(PointsEntry.delta)).where(PointsEntry.member_id == m.id)
        )
        assert total == m.points_balance
    account = session.get_one(PartnerAccount, partner_id)
    assert account.balance_minor == 10_000_000 - 50 * 2200
    entries = session.scalar(
        select(func.sum(AccountEntry.amount_minor)).where(AccountEntry.partner_id == partner_id)
    )
    assert entries == account.balance_minor


def test_quota_race_one_member_twenty_orders(app):
    (partner_id, listing_id), token = _setup(app, codes=30, members=1, points=50_000)
    set_quota(db.session(), TEST_ACTOR, partner_id, {"member_listing_daily_units": 1})
    db.session().commit()
    db.session.remove()
    results = _race(app, token, [(_body("m000", listing_id), f"q{i}") for i in range(20)])
    counts = Counter(results)
    assert counts[(201, None)] == 1, counts
    assert sum(n for (status, _), n in counts.items() if status != 201) == 19
    assert {code for (status, code) in counts if status != 201} <= {"quota_exceeded"}


def test_identical_order_requests_racing_make_one_order(app):
    (partner_id, listing_id), token = _setup(app, codes=10, members=1)
    results = _race(app, token, [(_body("m000", listing_id), "same-key") for _ in range(10)])
    assert all(r == (201, None) or r == (409, "idempotency_in_progress") for r in results), results
    session = db.session()
    assert (
        session.scalar(
            select(func.count()).select_from(Order).where(Order.partner_id == partner_id)
        )
        == 1
    )
    assert session.scalar(select(Member.points_balance).where(Member.partner_id == partner_id)) == 0


def _direct_recharge_shop(app, members: int, orders_each: int, capacity: int | None = None):
    """A direct-recharge listing (its units stay pending: no worker runs here), members with
    `orders_each` one-unit orders placed, and a partner token."""
    session = db.session()
    partner = make_partner(session, "refund-shop")
    fund(session, partner, amount_minor=10_000_000)
    product = make_product(
        session, "QQ音乐", fulfillment_type="direct_recharge", stock_capacity=capacity
    )
    listing = make_listing(session, partner, product)
    set_quota(
        session,
        TEST_ACTOR,
        partner.id,
        {"monthly_spend_cap_minor": 10_000_000, "member_listing_daily_units": 100},
    )
    session.commit()
    order_ids = []
    for i in range(members):
        member = make_member(session, partner, f"m{i:03d}", points=50_000, phone="13912345678")
        order_ids += [place(session, partner, member, listing).id for _ in range(orders_each)]
    token = ApiUser.login(app.test_client(), make_client(session, partner)).token
    ids = (partner.id, listing.id, product.id)
    db.session.remove()
    return ids, order_ids, token


def test_twenty_concurrent_cancels_of_one_members_orders_refund_every_point(app):
    """The review's case: the member row was locked without re-reading it, so each refund
    wrote its stale balance + 1000 and the balance fell behind the ledger."""
    (partner_id, _, _), order_ids, token = _direct_recharge_shop(app, members=1, orders_each=20)
    results = _race_posts(
        app, token, [(f"/api/v1/orders/{oid}/cancel", None, f"c-{oid}") for oid in order_ids]
    )
    assert Counter(results) == {(200, None): 20}, results
    session = db.session()
    member = session.scalars(select(Member).where(Member.partner_id == partner_id)).one()
    assert member.points_balance == 50_000
    assert ledger_problems(session) == []


def test_placing_and_cancelling_racing_finish_without_deadlock(app):
    """Placing took the spend counter then capacity, refunding capacity then the counter: a
    deadlock (a 500). Both now follow the one lock order, so every request goes through."""
    (partner_id, listing_id, product_id), order_ids, token = _direct_recharge_shop(
        app, members=10, orders_each=1, capacity=1000
    )
    cancels = [(f"/api/v1/orders/{oid}/cancel", None, f"c-{oid}") for oid in order_ids]
    places = [("/api/v1/orders", _body(f"m{i:03d}", listing_id), f"p-{i}") for i in range(10)]
    for _path, body, _key in places:
        body["items"][0]["recharge_account"] = "13912345678"
    interleaved = [post for pair in zip(cancels, places, strict=True) for post in pair]
    results = _race_posts(app, token, interleaved)
    assert Counter(status for status, _ in results) == {200: 10, 201: 10}, results
    session = db.session()
    assert session.get_one(Product, product_id).stock_capacity == 1000 - 10
    assert ledger_problems(session) == []


def test_concurrent_reveals_each_count_once_with_their_own_number(app):
    (partner_id, listing_id), token = _setup(app, codes=1, members=1)
    placed = _race(app, token, [(_body("m000", listing_id), "one")])
    assert placed == [(201, None)]
    session = db.session()
    entitlement = session.scalars(
        select(Entitlement).where(Entitlement.partner_id == partner_id)
    ).one()
    entitlement_id = entitlement.id
    db.session.remove()
    reveals = _race_posts(
        app,
        token,
        [(f"/api/v1/entitlements/{entitlement_id}/reveal", None, f"r{i}") for i in range(8)],
    )
    assert [status for status, _ in reveals] == [200] * 8, reveals
    session = db.session()
    assert session.get_one(Entitlement, entitlement_id).revealed_count == 8
    numbers = [
        row.after["reveal_number"]
        for row in session.scalars(
            select(AuditLog).where(
                AuditLog.target_id == entitlement_id, AuditLog.action == "entitlement.revealed"
            )
        )
    ]
    assert sorted(numbers) == list(range(1, 9))


def test_one_client_reference_racing_makes_one_order(app):
    """Ten orders with one reference and ten keys at once: one wins; the others, most of them
    past the first check before the winner commits, are refused by the unique key with the
    winner's id — never a 5xx or a second order."""
    (partner_id, listing_id), token = _setup(app, codes=10, members=10)
    results = _race(
        app,
        token,
        [
            ({**_body(f"m{i:03d}", listing_id), "client_reference": "PO-RACE"}, f"r{i}")
            for i in range(10)
        ],
    )
    counts = Counter(results)
    assert counts == {(201, None): 1, (409, "client_reference_used"): 9}, counts
    session = db.session()
    orders = session.scalars(select(Order).where(Order.client_reference == "PO-RACE")).all()
    assert len(orders) == 1 and orders[0].partner_id == partner_id
    assert session.scalar(select(func.count()).select_from(Order)) == 1
    assert ledger_problems(session) == []

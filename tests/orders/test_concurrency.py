"""Real concurrent clients on PostgreSQL, through the HTTP stack: no oversell, no double
charge, no cap exceeded, ledgers reconcile to the unit."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from app.billing.models import AccountEntry, PartnerAccount
from app.extensions import db
from app.members.models import Member, PointsEntry
from app.orders.models import Order
from app.partners.quotas import set_quota
from app.supply.models import Code
from tests.factories import (
    TEST_ACTOR,
    ApiUser,
    fund,
    make_client,
    make_member,
    make_partner,
    sellable_card_key_listing,
)

pytestmark = pytest.mark.postgres


def _race(app, token: str, bodies: list[tuple[dict, str]]) -> list[tuple[int, str | None]]:
    barrier = threading.Barrier(len(bodies))
    results: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def one(body: dict, key: str) -> None:
        http = app.test_client()
        barrier.wait()
        response = http.post(
            "/api/v1/orders",
            json=body,
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
        )
        payload = response.get_json()
        with lock:
            results.append(
                (response.status_code, payload.get("code") if response.status_code >= 400 else None)
            )

    threads = [threading.Thread(target=one, args=pair) for pair in bodies]
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

"""Points ledger: integers, never negative, soonest-expiring spent first, and the invariant
sum(ledger) == balance == sum(lots remaining), over random sequences of operations."""

from __future__ import annotations

import contextlib
from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.core.db import utcnow
from app.members import service
from app.members.errors import InsufficientPoints
from app.members.models import Member, PointsEntry, PointsLot
from tests.factories import TEST_ACTOR, make_member

OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("grant"), st.integers(1, 500), st.one_of(st.none(), st.integers(-3, 5))),
        st.tuples(st.just("spend"), st.integers(1, 600), st.none()),
        st.tuples(st.just("refund"), st.integers(1, 300), st.integers(0, 3)),
        st.tuples(st.just("expire"), st.just(0), st.integers(0, 6)),
    ),
    max_size=25,
)


def _check(session, member: Member) -> None:
    ledger = session.scalar(
        select(func.coalesce(func.sum(PointsEntry.delta), 0)).where(
            PointsEntry.member_id == member.id
        )
    )
    lots = session.scalar(
        select(func.coalesce(func.sum(PointsLot.remaining), 0)).where(
            PointsLot.member_id == member.id
        )
    )
    assert member.points_balance >= 0
    assert ledger == member.points_balance == lots
    assert service.ledger_mismatches(session) == []


def _given_back(session, spend: PointsEntry) -> Counter[str]:
    given: Counter[str] = Counter()
    for entry in session.scalars(
        select(PointsEntry).where(
            PointsEntry.kind == "refund", PointsEntry.order_id == spend.order_id
        )
    ):
        given.update(dict(entry.lots))
    return given


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPERATIONS)
def test_ledger_balances_and_refunds_return_what_each_lot_gave(session, partner_a, ops):
    """Random grants (some expiring), spends, partial refunds of any spend and expiries: the
    ledger always balances, no lot ever holds more than it was granted, and the refunds of a
    spend never give a lot more than the spend took from it."""
    nested = session.begin_nested()
    member, _ = service.upsert_member(
        session, TEST_ACTOR, partner_a.id, "prop", service.MemberChanges()
    )
    start = utcnow()
    spends: list[PointsEntry] = []
    for kind, amount, n in ops:
        if kind == "grant":
            expires = None if n is None else start + timedelta(days=n)
            service.grant_points(session, member, amount, "grant", expires)
        elif kind == "spend":
            with contextlib.suppress(InsufficientPoints):
                order_id = f"ord_prop{len(spends)}"
                spends.append(
                    service.spend_points(session, member, amount, "spend", order_id, now=start)
                )
        elif kind == "refund" and spends:
            spend = spends[n % len(spends)]
            left = -spend.delta - sum(_given_back(session, spend).values())
            if left:
                service.refund_points(session, member, spend, min(amount, left), "refund")
            given = _given_back(session, spend)
            assert all(given[lot_id] <= taken for lot_id, taken in spend.lots)
            assert set(given) <= {lot_id for lot_id, _ in spend.lots}
        elif kind == "expire":
            service.expire_points(session, partner_a.id, now=start + timedelta(days=n))
        session.flush()
        _check(session, member)
    nested.rollback()


def test_unit_refunds_go_back_to_the_lots_that_gave_them(session, partner_a):
    """The review's case: a permanent lot and an expiring one pay a 2-unit order whose units
    fail one by one; each lot gets back exactly what it gave, and expiring then takes only
    the expiring lot's points."""
    member = make_member(session, partner_a, "two-lots")
    now = utcnow()
    permanent = service.grant_points(session, member, 20_000, "permanent", None)
    expiring = service.grant_points(session, member, 11_600, "expiring", now + timedelta(days=1))
    session.flush()
    spend = service.spend_points(session, member, 23_200, "order", "ord_twounits")
    for _unit in range(2):
        service.refund_points(session, member, spend, 11_600, "unit failed")
    session.flush()
    lots = {
        lot.amount: lot.remaining
        for lot in session.scalars(select(PointsLot).where(PointsLot.member_id == member.id))
    }
    assert lots == {20_000: 20_000, 11_600: 11_600}
    assert member.points_balance == 31_600
    assert service.expire_points(session, partner_a.id, now + timedelta(days=2)) == 11_600
    assert permanent.delta == 20_000 and expiring.delta == 11_600
    _check(session, member)


def test_spending_takes_soonest_expiring_grants_first(session, partner_a):
    member = make_member(session, partner_a, "fefo")
    now = utcnow()
    late = service.grant_points(session, member, 100, "late", now + timedelta(days=30))
    never = service.grant_points(session, member, 100, "never", None)
    soon = service.grant_points(session, member, 100, "soon", now + timedelta(days=1))
    session.flush()
    spend = service.spend_points(session, member, 150, "order")
    lots = {
        lot.expires_at: lot.remaining
        for lot in session.scalars(select(PointsLot).where(PointsLot.member_id == member.id))
    }
    assert (
        lots[soon.expires_at] == 0 and lots[late.expires_at] == 50 and lots[never.expires_at] == 100
    )
    assert spend.balance_after == 150


def test_points_granted_but_not_yet_flushed_can_be_spent_at_once(session, partner_a):
    # the spend reads the lots as rows (read_rows), not through an ORM query's autoflush
    member = make_member(session, partner_a, "pending")
    service.grant_points(session, member, 80, "welcome", None)
    assert session.new  # the grant is only staged
    spend = service.spend_points(session, member, 80, "order")
    assert spend.balance_after == 0 and spend.lots[0][1] == 80


def test_expired_points_leave_through_a_ledger_entry_once(app, session, partner_a):
    member = make_member(session, partner_a, "exp")
    service.grant_points(session, member, 70, "old", utcnow() - timedelta(seconds=1))
    service.grant_points(session, member, 30, "fresh", utcnow() + timedelta(days=1))
    session.commit()
    result = app.test_cli_runner().invoke(args=["members", "expire-points"])
    assert "expired 70 points" in result.output
    session.refresh(member)
    assert member.points_balance == 30
    entries = session.scalars(
        select(PointsEntry).where(PointsEntry.member_id == member.id, PointsEntry.kind == "expire")
    ).all()
    assert [e.delta for e in entries] == [-70]
    again = app.test_cli_runner().invoke(args=["members", "expire-points"])
    assert "expired 0 points" in again.output


def test_points_api_grant_deduct_and_ledger(api_a, partner_a, session):
    make_member(session, partner_a, "api-m")
    grant = api_a.post(
        "/api/v1/members/api-m/points",
        json={"type": "grant", "amount": 300, "reason": "bonus"},
        headers={"Idempotency-Key": "g"},
    )
    assert grant.status_code == 201
    # the answer is the entry as stored: its time too, before the commit writes it
    ledger_first = api_a.get("/api/v1/members/api-m/points/ledger").get_json()["data"][0]
    assert grant.get_json() == ledger_first and grant.get_json()["created_at"]
    deduct = api_a.post(
        "/api/v1/members/api-m/points",
        json={"type": "deduct", "amount": 100, "reason": "fix"},
        headers={"Idempotency-Key": "d"},
    )
    assert deduct.get_json()["balance_after"] == 200
    too_much = api_a.post(
        "/api/v1/members/api-m/points",
        json={"type": "deduct", "amount": 201, "reason": "x"},
        headers={"Idempotency-Key": "d2"},
    )
    assert too_much.status_code == 422 and too_much.get_json()["code"] == "insufficient_points"
    missing_key = api_a.post(
        "/api/v1/members/api-m/points", json={"type": "grant", "amount": 1, "reason": "x"}
    )
    assert missing_key.status_code == 400
    float_amount = api_a.post(
        "/api/v1/members/api-m/points",
        json={"type": "grant", "amount": 1.5, "reason": "x"},
        headers={"Idempotency-Key": "f"},
    )
    assert float_amount.status_code == 422
    ledger = api_a.get("/api/v1/members/api-m/points/ledger").get_json()
    assert [e["delta"] for e in ledger["data"]] == [-100, 300]


def test_member_upsert_and_validation(api_a):
    created = api_a.put(
        "/api/v1/members/u-1",
        json={"display_name": "李四", "tier": "silver", "phone": "13800138000"},
    )
    assert created.status_code == 200 and created.get_json()["tier"] == "silver"
    updated = api_a.put("/api/v1/members/u-1", json={"status": "blocked"})
    assert updated.get_json()["status"] == "blocked" and updated.get_json()["tier"] == "silver"
    bad_phone = api_a.put("/api/v1/members/u-2", json={"phone": "12345"})
    assert bad_phone.status_code == 422 and "phone" in bad_phone.get_json()["errors"]
    assert api_a.get("/api/v1/members/nobody").get_json()["code"] == "member_not_found"
    listed = api_a.get("/api/v1/members").get_json()["data"]
    assert [m["external_id"] for m in listed] == ["u-1"]


def test_a_grant_past_what_a_balance_holds_is_422_and_keeps_the_balance(api_a, partner_a, session):
    """The balance is a PostgreSQL integer: the third grant of 10**9 failed at commit (503,
    'retry') there."""
    make_member(session, partner_a, "rich")

    def grant(key: str, amount: int):
        return api_a.post(
            "/api/v1/members/rich/points",
            json={"type": "grant", "amount": amount, "reason": "x"},
            headers={"Idempotency-Key": key},
        )

    assert grant("g1", 10**9).status_code == 201
    assert grant("g2", 10**9).status_code == 201
    refused = grant("g3", 10**9)
    assert refused.status_code == 422 and refused.get_json()["code"] == "points_balance_limit"
    assert grant("g4", 2**31 - 1 - 2 * 10**9).get_json()["balance_after"] == 2**31 - 1
    assert api_a.get("/api/v1/members/rich").get_json()["points_balance"] == 2**31 - 1


def test_a_members_phone_is_sealed_masked_and_found_by_fingerprint(api_a, session, partner_a):
    from sqlalchemy import text

    from app.core.audit import AuditLog
    from tests.factories import vault_for_tests

    created = api_a.put("/api/v1/members/p-1", json={"phone": "13800138000"})
    assert created.get_json()["phone"] == "138****8000"
    assert api_a.get("/api/v1/members/p-1").get_json()["phone"] == "138****8000"
    stored = " ".join(str(v) for row in session.execute(text("SELECT * FROM members")) for v in row)
    assert "13800138000" not in stored
    audits = " ".join(str(a.after) for a in session.scalars(select(AuditLog)))
    assert "13800138000" not in audits and "138****8000" in audits
    (found,) = service.find_members_by_phone(
        session, vault_for_tests(), partner_a.id, "13800138000"
    )
    assert found.external_id == "p-1"
    assert service.member_phone(vault_for_tests(), found) == "13800138000"
    cleared = api_a.put("/api/v1/members/p-1", json={"phone": None})
    assert cleared.get_json()["phone"] is None

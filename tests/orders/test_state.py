"""The order state machine: one table of allowed moves, one audit row and event per move."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.core.audit import SYSTEM, AuditLog
from app.orders.models import ORDER_STATUSES, Order
from app.orders.state import ALLOWED, EVENTS, IllegalTransition, transition
from app.webhooks.models import Event
from tests.factories import fund, make_member, place, sellable_card_key_listing


def test_every_status_is_in_the_table_and_reachable():
    assert set(ALLOWED) - {None} == set(ORDER_STATUSES) == set(EVENTS)
    reachable, frontier = set(), {None}
    while frontier:
        reachable |= frontier
        frontier = {s for f in frontier for s in ALLOWED[f]} - reachable
    assert reachable - {None} == set(ORDER_STATUSES)


@pytest.fixture
def fulfilled_order(session, partner_a) -> Order:
    fund(session, partner_a)
    member = make_member(session, partner_a, "m1", points=5000)
    return place(session, partner_a, member, sellable_card_key_listing(session, partner_a))


@pytest.mark.parametrize("new", ["processing", "failed", "cancelled", "partially_refunded"])
def test_a_final_status_cannot_be_left(session, fulfilled_order, new):
    before = session.scalars(select(AuditLog)).all()
    with pytest.raises(IllegalTransition):
        transition(session, SYSTEM, fulfilled_order, new)
    assert fulfilled_order.status == "fulfilled"
    assert session.scalars(select(AuditLog)).all() == before


def test_a_transition_writes_one_audit_row_and_its_event(session, partner_a):
    from app.members.models import Member

    fund(session, partner_a)
    member = make_member(session, partner_a, "m1", points=5000)
    order = Order(partner_id=partner_a.id, member_id=member.id, currency="CNY")
    order.member = session.get_one(Member, member.id)
    transition(session, SYSTEM, order, "processing")
    session.add(order)
    transition(session, SYSTEM, order, "failed")
    session.flush()
    actions = session.scalars(
        select(AuditLog.action).where(AuditLog.target_id == order.id).order_by(AuditLog.id)
    ).all()
    assert actions == ["order.created", "order.failed"]
    events = [
        e
        for e in session.scalars(select(Event).order_by(Event.id))
        if e.data["order_id"] == order.id
    ]
    assert [(e.type, e.data) for e in events] == [
        ("order.created", {"order_id": order.id, "member": "m1", "status": "processing"}),
        ("order.failed", {"order_id": order.id, "member": "m1", "status": "failed"}),
    ]

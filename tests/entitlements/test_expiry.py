"""Entitlements end: valid until the product's validity or the code's own expiry, whichever
comes first, and the hourly job marks them expired with an event."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from app.core.db import utcnow
from app.entitlements.models import Entitlement
from app.webhooks.models import Event
from tests.factories import fund, make_listing, make_member, make_product, place, stock_codes


def _order_of_a_code_expiring_in(session, partner, days: int):
    fund(session, partner)
    product = make_product(session, validity_days=31, low_stock_threshold=None)
    stock_codes(session, product, 1, expires_at=utcnow() + timedelta(days=days))
    listing = make_listing(session, partner, product)
    return place(session, partner, make_member(session, partner, "m1", points=5000), listing)


def test_an_entitlement_ends_when_its_code_expires_if_that_comes_first(session, partner_a):
    order = _order_of_a_code_expiring_in(session, partner_a, days=3)
    (entitlement,) = order.entitlements
    assert entitlement.valid_until <= utcnow() + timedelta(days=3)


def test_the_expiry_job_marks_past_entitlements_expired_once_with_an_event(app, session, partner_a):
    order = _order_of_a_code_expiring_in(session, partner_a, days=40)
    (entitlement,) = order.entitlements
    assert entitlement.valid_until > utcnow() + timedelta(days=30)  # the product's 31 days
    session.execute(  # a month later
        update(Entitlement)
        .where(Entitlement.id == entitlement.id)
        .values(valid_until=utcnow() - timedelta(minutes=1))
    )
    session.commit()
    runner = app.test_cli_runner()
    assert "expired 1 entitlement" in runner.invoke(args=["entitlements", "expire"]).output
    assert "expired 0 entitlement" in runner.invoke(args=["entitlements", "expire"]).output
    session.expire_all()
    assert session.get_one(Entitlement, entitlement.id).status == "expired"
    events = session.scalars(
        select(Event).where(Event.partner_id == partner_a.id, Event.type == "entitlement.expired")
    ).all()
    assert [e.data["entitlement_id"] for e in events] == [entitlement.id]

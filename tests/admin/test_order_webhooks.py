"""The order page lists the webhooks sent about the order (with each endpoint's delivery) and
sends one again; events of other orders or partners stay off it."""

from __future__ import annotations

from sqlalchemy import func, select

from app.core.vault import current_vault
from app.webhooks.endpoints import create_endpoint
from app.webhooks.models import Event, WebhookDelivery
from tests.admin.conftest import csrf_of, make_staff, post_form, sign_in
from tests.factories import TEST_ACTOR, fund, make_member, place, sellable_card_key_listing


def test_the_order_page_shows_its_events_and_sends_one_again(
    app, session, browser_of, partner_a, partner_b, empty_queues
):
    create_endpoint(
        session, TEST_ACTOR, current_vault(), partner_a.id, "http://127.0.0.1:9/h", [],
        allow_private=True,
    )  # fmt: skip
    fund(session, partner_a)
    fund(session, partner_b)
    member = make_member(session, partner_a, "m-1", points=100_000)
    listing = sellable_card_key_listing(session, partner_a)
    order, other = (
        place(session, partner_a, member, listing),
        place(session, partner_a, member, listing),
    )
    theirs = place(
        session,
        partner_b,
        make_member(session, partner_b, "m-1", points=100_000),
        sellable_card_key_listing(session, partner_b),
    )
    from app.core.db import utcnow
    from app.webhooks.outbox import dispatch_events

    dispatch_events(session, utcnow())
    session.commit()
    events = session.scalars(select(Event).where(Event.order_id == order.id)).all()
    assert {e.type for e in events} >= {"order.created", "order.fulfilled", "entitlement.created"}

    support = make_staff(session, partner_a.id, "operations")
    portal = browser_of()
    sign_in(portal, support)
    page = portal.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    assert all(e.id in page for e in events)
    other_ids = session.scalars(select(Event.id).where(Event.order_id.in_([other.id, theirs.id])))
    assert not any(event_id in page for event_id in other_ids)
    created = next(e for e in events if e.type == "order.created")
    before = session.scalar(
        select(func.count())
        .select_from(WebhookDelivery)
        .where(WebhookDelivery.event_id == created.id)
    )
    again = portal.post(
        f"/admin/developers/events/{created.id}/replay",
        data={"csrf_token": csrf_of(page)},
        headers={"Referer": f"http://localhost/admin/orders/{order.id}"},  # back to the order
    )
    assert again.status_code == 302 and again.headers["Location"].endswith(
        f"/admin/orders/{order.id}"
    )
    session.expire_all()
    assert (
        session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.event_id == created.id)
        )
        == before + 1
    )
    foreign = session.scalars(select(Event.id).where(Event.order_id == theirs.id)).first()
    refused = post_form(
        portal, f"/admin/orders/{order.id}", {}, f"/admin/developers/events/{foreign}/replay"
    )
    assert refused.status_code == 404


def test_orders_are_found_by_product_in_the_portal(session, browser_of, partner_a):
    fund(session, partner_a)
    member = make_member(session, partner_a, "m-1", points=100_000)
    first = sellable_card_key_listing(session, partner_a)
    second = sellable_card_key_listing(session, partner_a)
    one, two = place(session, partner_a, member, first), place(session, partner_a, member, second)
    portal = browser_of()
    sign_in(portal, make_staff(session, partner_a.id, "viewer"))
    html = portal.get(f"/admin/orders?product={second.product_id}").get_data(as_text=True)
    assert two.id in html and one.id not in html

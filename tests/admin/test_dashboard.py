"""The dashboard's quota bars: with a daily cap per listing, today's busiest listings show
their units against it; without one, no bars."""

from __future__ import annotations

from app.partners.quotas import set_quota
from tests.admin.conftest import make_staff, sign_in
from tests.factories import TEST_ACTOR, fund, make_member, place, sellable_card_key_listing


def test_listing_quota_bars_show_todays_units_against_the_cap(session, browser_of, partner_a):
    fund(session, partner_a)
    member = make_member(session, partner_a, "m-1", points=100_000)
    listing = sellable_card_key_listing(session, partner_a)
    name = listing.product.name
    portal = browser_of()
    sign_in(portal, make_staff(session, partner_a.id, "viewer"))
    assert 'data-testid="listing-quota"' not in portal.get("/admin/").get_data(as_text=True)
    set_quota(session, TEST_ACTOR, partner_a.id, {"listing_daily_units": 8})
    session.commit()
    place(session, partner_a, member, listing, quantity=3)
    html = portal.get("/admin/").get_data(as_text=True)
    bars = html.split('data-testid="listing-quota"')[1].split("</div>")[0]
    assert name in bars and "3 / 8" in bars

"""Partner staff set their own member prices in the portal: saved within the platform's floor
(a share of wholesale), never the wholesale price itself; a preview prices every tier through
the same pipeline as checkout and saves nothing; every save is audited with the staff member."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.core.audit import AuditLog
from app.core.errors import ValidationFailed
from app.partners import listings
from app.partners.models import Listing
from tests.admin.conftest import make_staff, post_form, sign_in
from tests.factories import TEST_ACTOR, make_listing, make_product

# 100 points = ¥1 (the factory partner's rate); wholesale ¥22.00, so the 80 % floor is ¥17.60
FORM = {
    "price_points": "2500",
    "price_cash": "",
    "tiers-0-tier": "gold",
    "tiers-0-points": "2200",
    "tiers-0-cash": "",
    "tiers-1-tier": "",
    "sale_points": "1800",
    "sale_cash": "",
    "sale_starts_at": "2026-01-01T10:00",
    "sale_ends_at": "2099-01-01T10:00",
    "max_per_order": "3",
    "member_monthly_units": "4",
    "is_visible": "y",
    "sort_order": "0",
}


@pytest.fixture
def listing(session, partner_a) -> Listing:
    return make_listing(session, partner_a, make_product(session), points=3000)


def _saved(session, listing_id: str) -> Listing:
    session.expire_all()
    return session.get_one(Listing, listing_id)


def test_operations_staff_set_prices_within_the_floor_and_the_save_is_audited(
    session, browser_of, partner_a, listing
):
    staff = make_staff(session, partner_a.id, "operations")
    portal = browser_of()
    sign_in(portal, staff)
    page = f"/admin/listings/{listing.id}"
    answer = post_form(portal, page, FORM)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    saved = _saved(session, listing.id)
    assert (saved.price_points, saved.tier_prices["gold"]["points"]) == (2500, 2200)
    assert (saved.sale_points, saved.max_per_order, saved.member_monthly_units) == (1800, 3, 4)
    assert saved.sale_starts_at.hour == 2  # 10:00 in Asia/Shanghai
    assert saved.wholesale_minor == 2200 and saved.sort_order == 0
    audit = session.scalars(select(AuditLog).where(AuditLog.action == "listing.updated")).one()
    assert (audit.actor_kind, audit.actor_id) == ("staff", staff.id)
    assert audit.before["price"]["points"] == 3000 and audit.after["price"]["points"] == 2500
    html = portal.get(page).get_data(as_text=True)
    assert "1,800" in html  # the sale price, shown for every tier in the preview
    assert ">gold<" in html


def test_a_price_under_the_floor_is_refused_and_nothing_is_saved(
    session, browser_of, partner_a, listing
):
    staff = make_staff(session, partner_a.id, "admin")
    portal = browser_of()
    sign_in(portal, staff)
    page = f"/admin/listings/{listing.id}"
    for field, value in [
        ("price_points", "1759"),
        ("tiers-0-points", "1000"),
        ("sale_points", "1"),
    ]:
        answer = post_form(portal, page, {**FORM, field: value})
        assert answer.status_code == 422, field
        assert "floor of 1760 fen" in answer.get_data(as_text=True)
        assert _saved(session, listing.id).price_points == 3000, field
    assert post_form(portal, page, {**FORM, "price_points": "1760"}).status_code == 302
    assert _saved(session, listing.id).price_points == 1760


def test_preview_prices_the_form_and_saves_nothing_a_viewer_may_preview_not_save(
    session, browser_of, partner_a, listing
):
    viewer = make_staff(session, partner_a.id, "viewer")
    portal = browser_of()
    sign_in(portal, viewer)
    page = f"/admin/listings/{listing.id}"
    no_sale = {"sale_points": "", "sale_starts_at": "", "sale_ends_at": ""}
    shown = post_form(portal, page, {**FORM, **no_sale, "price_points": "2468"}, f"{page}/preview")
    assert shown.status_code == 200
    html = shown.get_data(as_text=True)
    assert "2,468" in html and "2,200" in html  # the list price, and gold's
    assert 'data-testid="save"' not in html
    assert _saved(session, listing.id).price_points == 3000
    refused = post_form(portal, page, FORM)
    assert refused.status_code == 403
    assert _saved(session, listing.id).price_points == 3000


def test_the_wholesale_price_stays_the_platforms(session, partner_a, listing):
    with pytest.raises(ValidationFailed) as refused:
        listings.update_listing(
            session,
            TEST_ACTOR,
            listing,
            listings.ListingTerms.of({"wholesale_minor": 100}),
            bounded_by=partner_a,
        )
    assert "wholesale_minor" in refused.value.extra["errors"]
    # the platform itself is not bound by the floor (it owns wholesale)
    listings.update_listing(
        session, TEST_ACTOR, listing, listings.ListingTerms.of({"price_points": 10})
    )
    assert listing.price_points == 10


def test_the_demo_seed_keeps_prices_set_in_the_portal(session, tmp_path, partner_a):
    from app.partners.service import sync_partners

    root = tmp_path / "partners"
    (root / "partner-a").mkdir(parents=True)
    product = make_product(session)
    (root / "partner-a" / "partner.yaml").write_text(
        f"""slug: partner-a
name: Partner partner-a
kind: bank
branding: {{display_name: a, primary_color: "#112233", accent_color: "#445566"}}
points: {{unit_name: 积分, rate: {{points: 100, value: {{amount: 100, currency: CNY}}}}}}
listings:
  - product: {{brand: {product.brand}, name: {product.name}}}
    points: 3000
    wholesale: 2200
""",
        encoding="utf-8",
    )
    assert not sync_partners(session, TEST_ACTOR, root).errors
    listing = listings.find_listing_by_product(session, partner_a.id, product.id)
    listings.update_listing(
        session, TEST_ACTOR, listing, listings.ListingTerms.of({"price_points": 2500}), partner_a
    )
    sync_partners(session, TEST_ACTOR, root, update_existing=False)
    assert listing.price_points == 2500
    sync_partners(session, TEST_ACTOR, root)  # `flask partners sync`: the file wins
    assert listing.price_points == 3000

"""A partner's owners and admins set its maker–checker thresholds and after-sales service
levels; new cases take their due times from them; a bad combination saves nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.core.audit import AuditLog
from app.core.db import utcnow
from app.orders import aftersales
from app.partners.models import Partner
from tests.admin.conftest import make_staff, post_form, sign_in
from tests.factories import TEST_ACTOR, fund, make_member, place, sellable_card_key_listing

SETTINGS = {
    "adjustment_approval_points": "500",
    "bulk_grant_approval_points": "20000",
    "case_first_response_hours": "2",
    "case_resolution_hours": "24",
}


def _partner(session, partner_id: str) -> Partner:
    session.expire_all()
    return session.get_one(Partner, partner_id)


def test_an_owner_sets_thresholds_and_service_levels_new_cases_follow(
    session, browser_of, partner_a
):
    owner = make_staff(session, partner_a.id, "owner")
    portal = browser_of()
    sign_in(portal, owner)
    assert post_form(portal, "/admin/settings", SETTINGS).status_code == 302
    partner = _partner(session, partner_a.id)
    assert (partner.adjustment_approval_points, partner.bulk_grant_approval_points) == (500, 20_000)
    audit = session.scalars(
        select(AuditLog).where(AuditLog.action == "partner.settings_updated")
    ).one()
    assert audit.actor_id == owner.id and audit.after["case_resolution_hours"] == 24

    fund(session, partner_a)
    member = make_member(session, partner_a, "m-1", points=10_000)
    order = place(session, partner_a, member, sellable_card_key_listing(session, partner_a))
    now = utcnow()
    case = aftersales.open_case(
        session, TEST_ACTOR, partner_a.id, order.id, order.deliveries[0].id, "other", "x", now
    )
    assert case.first_response_due_at == now + timedelta(hours=2)
    assert case.resolution_due_at == now + timedelta(hours=24)


def test_a_first_response_later_than_resolution_saves_nothing(session, browser_of, partner_a):
    admin = make_staff(session, partner_a.id, "admin")
    portal = browser_of()
    sign_in(portal, admin)
    answer = post_form(portal, "/admin/settings", {**SETTINGS, "case_first_response_hours": "30"})
    assert answer.status_code == 422
    assert _partner(session, partner_a.id).case_first_response_hours == 4
    operations = browser_of()
    sign_in(operations, make_staff(session, partner_a.id, "operations"))
    assert post_form(operations, "/admin/", SETTINGS, "/admin/settings").status_code == 403


def test_the_mall_look_set_in_the_portal_shows_at_the_next_page(session, browser_of, partner_a):
    owner = make_staff(session, partner_a.id, "owner")
    portal = browser_of()
    sign_in(portal, owner)
    look = {
        "display_name": "新商城",
        "tagline": "欢迎",
        "primary_color": "#0A7B3E",
        "accent_color": "#FFCC00",
        "return_url": "https://app.partner-a.example/home",
        "font": "rounded",
        "home_layout": "list",
    }
    saved = post_form(portal, "/admin/settings", look, "/admin/settings/mall")
    assert saved.status_code == 302
    theme = browser_of().get("/m/partner-a/theme.css").get_data(as_text=True)
    assert "#0A7B3E" in theme and "#FFCC00" in theme and "Varela Round" in theme
    assert _partner(session, partner_a.id).branding["home_layout"] == "list"
    bad = post_form(
        portal, "/admin/settings", {**look, "primary_color": "green"}, "/admin/settings/mall"
    )
    assert bad.status_code == 422
    assert _partner(session, partner_a.id).branding["primary_color"] == "#0A7B3E"

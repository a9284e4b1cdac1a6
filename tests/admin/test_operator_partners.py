"""The operator console's partner pages: create a partner, move money (top-up, credit limit),
set quotas and the billing plan, suspend and reactivate, hold channel stock, invite the
partner's staff — each through the platform API's own services, audited with the operator;
platform support reads but changes nothing."""

from __future__ import annotations

from sqlalchemy import select

from app.accounts.models import BillingPlan, PartnerAccount
from app.auth.models import StaffUser
from app.core.audit import AuditLog
from app.partners.models import Partner, PartnerQuota
from app.supply.models import Allocation
from tests.admin.conftest import make_staff, post_form, sign_in
from tests.factories import ApiUser, make_client, make_product, stock_codes

NEW = {
    "slug": "harbor-air",
    "name": "港湾航空 Harbor Air",
    "kind": "airline",
    "display_name": "港湾里程商城",
    "primary_color": "#123456",
    "accent_color": "#654321",
    "points_unit_name": "里程",
    "points_per_yuan": "50",
    "timezone": "Asia/Shanghai",
    "region": "CN",
}


def test_an_operator_creates_a_partner_and_a_bad_one_is_refused(session, browser_of):
    operator = make_staff(session, None, "operator")
    portal = browser_of()
    sign_in(portal, operator)
    made = post_form(portal, "/admin/platform/partners/new", NEW)
    assert made.status_code == 302
    partner = session.scalars(select(Partner).where(Partner.slug == "harbor-air")).one()
    assert (partner.points_unit_name, partner.points_rate_points) == ("里程", 50)
    assert made.headers["Location"].endswith(f"/admin/platform/partners/{partner.id}")
    for bad in ({"slug": "Not A Slug"}, {"primary_color": "red"}, {"slug": "harbor-air"}):
        refused = post_form(portal, "/admin/platform/partners/new", {**NEW, **bad})
        assert refused.status_code == 422, bad
    assert session.query(Partner).filter(Partner.kind == "airline").count() == 1


def test_an_operator_runs_a_partners_account_quotas_plan_and_status(session, browser_of, partner_a):
    operator = make_staff(session, None, "operator")
    portal = browser_of()
    sign_in(portal, operator)
    page = f"/admin/platform/partners/{partner_a.id}"
    assert (
        post_form(
            portal, page, {"amount": "100.50", "reason": "wire 42"}, f"{page}/top-up"
        ).status_code
        == 302
    )
    post_form(portal, page, {"credit_limit": "50"}, f"{page}/credit-limit")
    post_form(
        portal,
        page,
        {"monthly_spend_cap": "1000", "member_daily_orders": "3", "listing_daily_units": ""},
        f"{page}/quota",
    )
    post_form(
        portal,
        page,
        {
            "monthly_fee": "500",
            "per_order_fee": "0.10",
            "wholesale_fee_bp": "150",
            "minimum_commitment": "0",
            "vat_rate_bp": "600",
        },
        f"{page}/plan",
    )
    session.expire_all()
    account = session.get_one(PartnerAccount, partner_a.id)
    assert (account.balance_minor, account.credit_limit_minor) == (10_050, 5_000)
    quota = session.get_one(PartnerQuota, partner_a.id)
    assert (quota.monthly_spend_cap_minor, quota.member_daily_orders) == (100_000, 3)
    assert quota.listing_daily_units is None
    plan = session.get_one(BillingPlan, partner_a.id)
    assert (plan.monthly_fee_minor, plan.per_order_fee_minor, plan.wholesale_fee_bp) == (
        50_000,
        10,
        150,
    )
    html = portal.get(page).get_data(as_text=True)
    assert "¥100.50" in html

    api = ApiUser.login(browser_of(), make_client(session, partner_a))  # own app contexts
    post_form(portal, page, {}, f"{page}/suspend")
    refused = api.get("/api/v1/partner")
    assert refused.status_code == 403 and refused.get_json()["code"] == "partner_suspended"
    post_form(portal, page, {}, f"{page}/activate")
    assert api.get("/api/v1/partner").status_code == 200
    actions = set(
        session.scalars(select(AuditLog.action).where(AuditLog.actor_id == operator.id)).all()
    )
    assert {
        "account.topup",
        "account.credit_limit_set",
        "quota.updated",
        "billing_plan.updated",
        "partner.updated",
    } <= actions


def test_channel_stock_and_staff_invitations(session, browser_of, partner_a, mailbox):
    product = make_product(session, low_stock_threshold=None)
    stock_codes(session, product, 5)
    operator = make_staff(session, None, "operator")
    portal = browser_of()
    sign_in(portal, operator)
    page = f"/admin/platform/partners/{partner_a.id}"
    held = post_form(
        portal, page, {"product_id": product.id, "quantity": "3"}, f"{page}/allocations"
    )
    assert held.status_code == 302
    allocation = session.scalars(select(Allocation)).one()
    assert allocation.quantity == 3 and allocation.partner_id == partner_a.id
    post_form(portal, page, {}, f"/admin/platform/allocations/{allocation.id}/release")
    session.expire_all()
    assert session.get_one(Allocation, allocation.id).status == "released"

    post_form(
        portal,
        page,
        {"email": "boss@harbor.example", "name": "Boss", "role": "owner"},
        f"{page}/invite",
    )
    (message,) = mailbox()
    assert message["To"] == "boss@harbor.example"
    staff = session.scalars(select(StaffUser).where(StaffUser.email == "boss@harbor.example")).one()
    assert (staff.partner_id, staff.role) == (partner_a.id, "owner")


def test_platform_support_reads_a_partner_but_changes_nothing(session, browser_of, partner_a):
    support = make_staff(session, None, "support")
    portal = browser_of()
    sign_in(portal, support)
    page = f"/admin/platform/partners/{partner_a.id}"
    html = portal.get(page).get_data(as_text=True)
    assert partner_a.name in html and 'data-testid="top-up"' not in html
    refused = post_form(portal, page, {"amount": "1", "reason": "x"}, f"{page}/top-up")
    assert refused.status_code == 403
    assert (
        post_form(portal, "/admin/platform/", NEW, "/admin/platform/partners/new").status_code
        == 403
    )


def test_an_order_is_found_across_partners_by_any_of_its_ids(session, browser_of, partner_b):
    from app.core.db import utcnow
    from app.orders import aftersales
    from app.orders.checkout import OrderLine, Payment, PlaceOrder, place_order
    from tests.factories import (
        TEST_ACTOR,
        fund,
        make_member,
        sellable_card_key_listing,
        vault_for_tests,
    )

    fund(session, partner_b)
    make_member(session, partner_b, "m-1", points=10_000)
    listing = sellable_card_key_listing(session, partner_b)
    order = place_order(
        session, TEST_ACTOR, partner_b.id,
        PlaceOrder("m-1", (OrderLine(listing.id, 1),), Payment(points=listing.price_points),
                   client_reference="PO-7731"),
        vault=vault_for_tests(),
    )  # fmt: skip
    session.commit()
    delivery = order.deliveries[0]
    case = aftersales.open_case(
        session, TEST_ACTOR, partner_b.id, order.id, delivery.id, "other", "x", utcnow()
    )
    session.commit()
    portal = browser_of()
    sign_in(portal, make_staff(session, None, "support"))
    for reference in (order.id, order.items[0].id, delivery.id, order.entitlements[0].id,
                      case.id, "PO-7731"):  # fmt: skip
        html = portal.get("/admin/platform/", query_string={"order": reference}).get_data(
            as_text=True
        )
        assert 'data-testid="found-order"' in html and order.id in html, reference
    missing = portal.get("/admin/platform/?order=dlv_01nosuchdelivery000000000")
    assert 'data-testid="found-order"' not in missing.get_data(as_text=True)

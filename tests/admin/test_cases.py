"""The support console resolves an after-sales case opened from an order's unit."""

from __future__ import annotations

from sqlalchemy import select

from app.entitlements.models import Entitlement
from app.orders.models import Case
from tests.admin.conftest import csrf_of, make_staff, sign_in
from tests.factories import fund, make_member, place, sellable_card_key_listing


def test_support_opens_a_case_from_the_order_and_reissues_the_code(session, browser_of, partner_a):
    fund(session, partner_a)
    member = make_member(session, partner_a, "m-1", points=5_000)
    order = place(session, partner_a, member, sellable_card_key_listing(session, partner_a))
    support = make_staff(session, partner_a.id, "support")
    portal = browser_of()
    sign_in(portal, support)
    page = portal.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    opened = portal.post(
        f"/admin/orders/{order.id}/cases",
        data={
            "csrf_token": csrf_of(page),
            "delivery_id": order.deliveries[0].id,
            "kind": "code_not_working",
            "description": "兑换时提示卡密无效",
        },
    )
    case_page = opened.headers["Location"]
    html = portal.get(case_page).get_data(as_text=True)
    assert 'data-testid="evidence"' in html and 'data-testid="reissue"' in html
    assert case_page.rsplit("/", 1)[1] in portal.get("/admin/cases").get_data(as_text=True)
    done = portal.post(
        case_page + "/resolve",
        data={"csrf_token": csrf_of(html), "resolution": "reissued", "note": "supplier confirmed"},
    )
    assert done.status_code == 302
    session.expire_all()
    case = session.scalars(select(Case)).one()
    assert case.resolution == "reissued" and case.resolved_by.startswith("staff:")
    held = session.scalars(select(Entitlement.status).where(Entitlement.order_id == order.id)).all()
    assert sorted(held) == ["active", "revoked"]


def test_a_viewer_reads_cases_but_cannot_resolve(session, browser_of, partner_a):
    fund(session, partner_a)
    member = make_member(session, partner_a, "m-1", points=5_000)
    order = place(session, partner_a, member, sellable_card_key_listing(session, partner_a))
    support = make_staff(session, partner_a.id, "support")
    viewer = make_staff(session, partner_a.id, "viewer")
    portal = browser_of()
    sign_in(portal, support)
    page = portal.get(f"/admin/orders/{order.id}").get_data(as_text=True)
    case_page = portal.post(
        f"/admin/orders/{order.id}/cases",
        data={
            "csrf_token": csrf_of(page),
            "delivery_id": order.deliveries[0].id,
            "kind": "other",
            "description": "x",
        },
    ).headers["Location"]
    looker = browser_of()
    sign_in(looker, viewer)
    html = looker.get(case_page).get_data(as_text=True)
    assert 'data-testid="reissue"' not in html
    refused = looker.post(
        case_page + "/resolve",
        data={"csrf_token": csrf_of(html), "resolution": "refunded", "note": "x"},
    )
    assert refused.status_code == 403

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


def test_the_case_page_shows_what_supplier_statements_said_of_the_unit(
    session, browser_of, partner_a, empty_queues
):
    from datetime import timedelta

    from app.billing import reconciliation
    from app.core.db import utcnow
    from app.fulfillment import service as engine
    from app.fulfillment.suppliers.base import SUCCESS, StatusReport, SubmitResult
    from app.orders import aftersales
    from tests.factories import TEST_ACTOR, make_listing, make_product, make_supplier

    supplier = make_supplier(session, "Upstream V")
    product = make_product(
        session, "腾讯视频", fulfillment_type="direct_recharge", supplier=supplier
    )
    fund(session, partner_a)
    member = make_member(session, partner_a, "m-1", points=10_000, phone="13912345678")
    order = place(session, partner_a, member, make_listing(session, partner_a, product))
    (delivery,) = order.deliveries
    now = utcnow()
    submission = engine.begin_submission(session, delivery.id, now)
    engine.record_submission(session, submission, SubmitResult("accepted", "SO-9"), now)
    engine.apply_report(
        session, delivery.id, supplier.id, StatusReport(delivery.id, SUCCESS, "SO-9"), now
    )
    case = aftersales.open_case(
        session, TEST_ACTOR, partner_a.id, order.id, delivery.id, "recharge_not_received", "x",
        now,
    )  # fmt: skip
    statement = (
        "reference,supplier_order_no,status,amount,completed_at\n"
        f"{delivery.id},SO-9,success,21.00,\n"
    ).encode()
    today = now.date()
    reconciliation.reconcile_statement(
        session, TEST_ACTOR, supplier, statement, today - timedelta(days=1),
        today + timedelta(days=1),
    )  # fmt: skip
    session.commit()
    portal = browser_of()
    sign_in(portal, make_staff(session, partner_a.id, "support"))
    html = portal.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    rows = html.split('data-testid="statement-rows"')[1].split("</table>")[0]
    assert "¥21.00" in rows and "success" in rows

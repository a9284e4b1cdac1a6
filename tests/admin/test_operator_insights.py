"""The operator console's insight pages: stock levels (low first) with a burn-down, supplier
performance, webhook health and supplier statement reconciliation (upload, then review the
discrepancies); platform support reads them, only an operator uploads."""

from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import select

from app.billing.models import Reconciliation
from app.core.db import utcnow
from app.core.vault import current_vault
from app.fulfillment import stats
from app.webhooks.endpoints import create_endpoint
from app.webhooks.models import Event, WebhookDelivery
from tests.admin.conftest import csrf_of, make_staff, sign_in
from tests.factories import (
    TEST_ACTOR,
    fund,
    make_listing,
    make_member,
    make_product,
    make_supplier,
    place,
    stock_codes,
)


def test_low_stock_comes_first_with_its_sales_and_burn_down(session, browser_of, partner_a):
    plenty = make_product(session, name="Plenty", low_stock_threshold=None)
    stock_codes(session, plenty, 50)
    scarce = make_product(session, name="Scarce", low_stock_threshold=5)
    stock_codes(session, scarce, 6)
    fund(session, partner_a)
    member = make_member(session, partner_a, "m-1", points=100_000)
    listing = make_listing(session, partner_a, scarce)
    for _ in range(3):
        place(session, partner_a, member, listing)  # 3 left: below its threshold of 5
    support = make_staff(session, None, "support")
    portal = browser_of()
    sign_in(portal, support)
    html = portal.get("/admin/platform/stock").get_data(as_text=True)
    assert html.index("Scarce") < html.index("Plenty")
    assert 'data-testid="low-stock"' in html
    today = utcnow().date()
    assert stats.units_per_day(session, scarce.id, today - timedelta(days=1), today) == [(today, 3)]
    burn = portal.get(f"/admin/platform/products/{scarce.id}").get_data(as_text=True)
    assert 'data-testid="burn-down"' in burn and ">3<" in burn


def test_supplier_performance_lists_every_supplier_as_the_api_counts(session, browser_of):
    supplier = make_supplier(session, "Upstream Q")
    make_product(session, "网易云音乐", fulfillment_type="direct_recharge", supplier=supplier)
    since = utcnow() - timedelta(days=7)
    everyone = stats.all_supplier_stats(session, since)
    assert everyone[supplier.id] == stats.supplier_stats(session, supplier.id, since)
    portal = browser_of()
    sign_in(portal, make_staff(session, None, "finance"))
    assert "Upstream Q" in portal.get("/admin/platform/suppliers").get_data(as_text=True)


def test_webhook_health_puts_a_failing_endpoint_first(session, browser_of, partner_a, partner_b):
    failing = create_endpoint(
        session, TEST_ACTOR, current_vault(), partner_a.id, "http://127.0.0.1:9/a", [],
        allow_private=True,
    ).endpoint  # fmt: skip
    healthy = create_endpoint(
        session, TEST_ACTOR, current_vault(), partner_b.id, "http://127.0.0.1:9/b", [],
        allow_private=True,
    ).endpoint  # fmt: skip
    for endpoint, status in ((failing, "failed"), (failing, "succeeded"), (healthy, "succeeded")):
        event = Event(
            type="ping", data={"endpoint_id": endpoint.id}, partner_id=endpoint.partner_id
        )
        session.add(event)
        session.flush()
        session.add(
            WebhookDelivery(
                endpoint_id=endpoint.id, event_id=event.id, partner_id=endpoint.partner_id,
                status=status, attempts=1,
            )
        )  # fmt: skip
    session.commit()
    portal = browser_of()
    sign_in(portal, make_staff(session, None, "support"))
    html = portal.get("/admin/platform/webhooks").get_data(as_text=True)
    assert html.index(failing.id) < html.index(healthy.id) and "50.0%" in html


def test_an_operator_uploads_a_statement_and_reviews_its_discrepancies(session, browser_of):
    supplier = make_supplier(session, "Upstream R")
    operator = make_staff(session, None, "operator")
    portal = browser_of()
    sign_in(portal, operator)
    page = portal.get("/admin/platform/reconciliations").get_data(as_text=True)
    today = utcnow().date()
    statement = (
        b"reference,supplier_order_no,status,amount,completed_at\n"
        b"dlv_01nosuchdelivery000000000,SO-99,success,20.00,\n"
    )
    answer = portal.post(
        "/admin/platform/reconciliations",
        data={
            "csrf_token": csrf_of(page),
            "supplier_id": supplier.id,
            "first": str(today - timedelta(days=1)),
            "last": str(today + timedelta(days=1)),
            "file": (io.BytesIO(statement), "r.csv"),
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 302
    run = session.scalars(select(Reconciliation)).one()
    assert run.supplier_id == supplier.id
    detail = portal.get(answer.headers["Location"]).get_data(as_text=True)
    assert "missing_on_our_side" in detail and "SO-99" in detail
    assert run.id in portal.get("/admin/platform/reconciliations").get_data(as_text=True)

    support = browser_of()
    sign_in(support, make_staff(session, None, "support"))
    page = support.get("/admin/platform/reconciliations").get_data(as_text=True)
    refused = support.post(
        "/admin/platform/reconciliations",
        data={"csrf_token": csrf_of(page), "supplier_id": supplier.id,
              "file": (io.BytesIO(statement), "r.csv")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert refused.status_code == 403


def test_an_operator_edits_a_product_and_its_offer(session, browser_of):
    from app.supply.models import Offer, Product

    product = make_product(session, "爱奇艺", fulfillment_type="direct_recharge", stock_capacity=50)
    offer = session.scalars(select(Offer).where(Offer.product_id == product.id)).one()
    operator = make_staff(session, None, "operator")
    portal = browser_of()
    sign_in(portal, operator)
    page = f"/admin/platform/products/{product.id}"
    html = portal.get(page).get_data(as_text=True)
    saved = portal.post(
        page,
        data={"csrf_token": csrf_of(html), "status": "inactive", "low_stock_threshold": "7",
              "stock_capacity": "80"},
    )  # fmt: skip
    assert saved.status_code == 302
    portal.post(
        f"{page}/offers/{offer.id}",
        data={"csrf_token": csrf_of(html), f"{offer.id}-priority": "5",
              f"{offer.id}-cost": "18.50", f"{offer.id}-status": "paused"},
    )  # fmt: skip
    session.expire_all()
    product = session.get_one(Product, product.id)
    assert (product.status, product.low_stock_threshold, product.stock_capacity) == (
        "inactive",
        7,
        80,
    )
    offer = session.get_one(Offer, offer.id)
    assert (offer.priority, offer.cost_minor, offer.status) == (5, 1850, "paused")
    finance = browser_of()
    sign_in(finance, make_staff(session, None, "finance"))
    html = finance.get(page).get_data(as_text=True)
    refused = finance.post(page, data={"csrf_token": csrf_of(html), "status": "active"})
    assert refused.status_code == 403


def test_authorization_documents_are_kept_checked_and_served_as_attachments(session, browser_of):
    from app.core.audit import AuditLog
    from app.supply.models import Authorization

    make_product(session, "优酷")  # with a valid authorization for its brand
    authorization = session.scalars(select(Authorization)).first()
    operator = make_staff(session, None, "operator")
    portal = browser_of()
    sign_in(portal, operator)
    page = f"/admin/platform/authorizations/{authorization.id}"
    html = portal.get(page).get_data(as_text=True)

    def attach(body: bytes, name: str):
        return portal.post(
            f"{page}/documents",
            data={"csrf_token": csrf_of(html), "file": (io.BytesIO(body), name)},
            content_type="multipart/form-data",
        )

    pdf = b"%PDF-1.4\n% contract\n"
    assert attach(pdf, "授权书.pdf").status_code == 302
    attach(b"<script>alert(1)</script>", "evil.pdf")  # named .pdf, is not: refused
    listed = portal.get(page).get_data(as_text=True)
    assert "授权书.pdf" in listed and "evil.pdf" not in listed
    document_id = listed.split("/admin/platform/documents/")[1].split('"')[0]
    served = portal.get(f"/admin/platform/documents/{document_id}")
    assert served.data == pdf and served.mimetype == "application/pdf"
    assert served.headers["Content-Disposition"].startswith("attachment;")
    assert (
        session.scalars(
            select(AuditLog).where(AuditLog.action == "authorization.document_attached")
        )
        .one()
        .actor_id
        == operator.id
    )

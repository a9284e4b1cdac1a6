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
    burn = portal.get(f"/admin/platform/stock/{scarce.id}").get_data(as_text=True)
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

"""The operator console's supply and money pages: code batches uploaded and voided by an
operator; platform finance and support read but change nothing."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from app.supply.models import Code, CodeBatch, Offer
from tests.admin.conftest import csrf_of, make_staff, sign_in
from tests.factories import make_product


def test_an_operator_imports_and_voids_a_code_batch(session, browser_of):
    product = make_product(session, low_stock_threshold=None)
    offer_id = session.scalars(select(Offer.id).where(Offer.product_id == product.id)).one()
    operator = make_staff(session, None, "operator")
    portal = browser_of()
    sign_in(portal, operator)
    page = portal.get("/admin/platform/batches").get_data(as_text=True)
    assert offer_id in page
    answer = portal.post(
        "/admin/platform/batches",
        data={
            "csrf_token": csrf_of(page),
            "offer_id": offer_id,
            "file": (io.BytesIO(b"code,password\nOPS-0001,\nOPS-0002,pin\n"), "batch.csv"),
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 302
    batch = session.scalars(select(CodeBatch).where(CodeBatch.product_id == product.id)).one()
    assert session.scalar(select(func.count()).where(Code.batch_id == batch.id)) == 2
    listing = portal.get("/admin/platform/batches").get_data(as_text=True)
    assert batch.id in listing and "OPS-0001" not in listing  # codes never shown
    portal.post(f"/admin/platform/batches/{batch.id}/void", data={"csrf_token": csrf_of(listing)})
    session.expire_all()
    assert session.get_one(CodeBatch, batch.id).status == "void"


def test_platform_finance_reads_supply_and_margins_but_cannot_import(session, browser_of):
    make_product(session, low_stock_threshold=None)
    finance = make_staff(session, None, "finance")
    portal = browser_of()
    sign_in(portal, finance)
    assert portal.get("/admin/platform/supply").status_code == 200
    money = portal.get("/admin/platform/money").get_data(as_text=True)
    assert 'data-testid="invariants"' in money and "flash-ok" in money
    page = portal.get("/admin/platform/batches").get_data(as_text=True)
    refused = portal.post(
        "/admin/platform/batches",
        data={"csrf_token": csrf_of(page), "file": (io.BytesIO(b"code\nX\n"), "b.csv")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 403


def test_finance_staff_read_the_ledger_and_download_an_invoice(session, browser_of, partner_a):
    from app.billing import invoices
    from tests.factories import TEST_ACTOR, fund

    fund(session, partner_a)
    invoice, _ = invoices.generate_invoice(session, TEST_ACTOR, partner_a, "2026-01")
    invoices.issue_invoice(session, TEST_ACTOR, invoice.id)
    session.commit()
    finance = make_staff(session, partner_a.id, "finance")
    portal = browser_of()
    sign_in(portal, finance)
    page = portal.get("/admin/finance").get_data(as_text=True)
    assert invoice.number in page and "test funds" in page
    pdf = portal.get(f"/admin/finance/invoices/{invoice.id}.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    # finance manages the account's low-balance alert
    saved = portal.post("/admin/finance/threshold", data={"csrf_token": csrf_of(page)})
    assert saved.status_code == 302

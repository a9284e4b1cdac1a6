"""Invoices: priced from orders, refunds, adjustments and the plan; one per partner and month
(in the plan's timezone); frozen once issued; readable as JSON, CSV and PDF."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from sqlalchemy import func, select, update

from app.accounts import plans
from app.accounts import service as billing
from app.accounts.models import AccountEntry, PartnerAccount
from app.billing import invoices
from app.billing.invoices import LineDraft, Usage, price_lines
from app.billing.models import Invoice, InvoiceImmutable
from app.core.db import utcnow
from app.orders.models import Order
from app.webhooks.outbox import events_of_type
from tests.factories import (
    TEST_ACTOR,
    ApiUser,
    fund,
    make_client,
    make_member,
    make_partner,
    place,
    sellable_card_key_listing,
)

NOVEMBER_END = datetime(2026, 12, 1, tzinfo=UTC)  # any moment after November is over everywhere
PLAN = {
    "monthly_fee_minor": 50_000,
    "per_order_fee_minor": 100,
    "wholesale_fee_bp": 150,
    "minimum_commitment_minor": 10_000,
    "vat_rate_bp": 600,
}


def _orders_at(session, partner, moments: list[datetime], wholesale_minor: int = 2200):
    """One single-unit card-key order per moment, dated then."""
    fund(session, partner)
    listing = sellable_card_key_listing(
        session, partner, codes=len(moments), wholesale_minor=wholesale_minor
    )
    member = make_member(session, partner, "buyer", points=100_000)
    orders = [place(session, partner, member, listing) for _ in moments]
    for order, moment in zip(orders, moments, strict=True):
        session.execute(update(Order).where(Order.id == order.id).values(created_at=moment))
        session.execute(
            update(AccountEntry).where(AccountEntry.order_id == order.id).values(created_at=moment)
        )
    session.commit()
    return listing, orders


def _date_entries(session, partner, kind: str, moment: datetime) -> None:
    session.execute(
        update(AccountEntry)
        .where(AccountEntry.partner_id == partner.id, AccountEntry.kind == kind)
        .values(created_at=moment)
    )


def _priced_november(session, partner) -> Invoice:
    """3 orders (6,600 wholesale), a 2,200 refund and a 500 goodwill credit, on PLAN."""
    moment = datetime(2026, 11, 10, 4, tzinfo=UTC)
    _orders_at(session, partner, [moment] * 3)
    plans.set_plan(session, TEST_ACTOR, partner.id, PLAN)
    billing.refund_order(session, partner.id, 2200, "ord_x", "order failed")
    billing.adjust(session, TEST_ACTOR, partner.id, 500, "goodwill")
    _date_entries(session, partner, "refund", moment)
    _date_entries(session, partner, "adjustment", moment)
    invoice, created = invoices.generate_invoice(session, TEST_ACTOR, partner, "2026-11")
    session.commit()
    assert created
    return invoice


def test_invoice_lines_fees_vat_and_total(session, partner_a):
    invoice = _priced_november(session, partner_a)
    lines = [(line.kind, line.quantity, line.amount_minor) for line in invoice.lines]
    assert lines == [
        ("wholesale", 3, 6600),
        ("refund", 1, -2200),
        ("adjustment", None, -500),
        ("platform_fee", None, 50_000),
        ("order_fee", 3, 300),
        ("wholesale_fee", None, 66),  # 1.5 % of 4,400 net wholesale
        ("minimum_commitment", None, 5234),  # 10,000 - (4,400 + 300 + 66)
        ("vat", None, 3570),  # 6 % of 59,500
    ]
    assert invoice.subtotal_minor == 59_500
    assert invoice.vat_minor == 3570
    assert invoice.total_minor == 63_070 == sum(line.amount_minor for line in invoice.lines)
    assert invoice.plan["wholesale_fee_bp"] == 150
    # finance can explain it from the ledger: the month's charges, refunds and adjustments
    booked = session.scalar(
        select(func.sum(AccountEntry.amount_minor)).where(
            AccountEntry.partner_id == partner_a.id,
            AccountEntry.kind.in_(("charge", "refund", "adjustment")),
            AccountEntry.created_at >= invoice.period_start,
            AccountEntry.created_at < invoice.period_end,
        )
    )
    usage = [li for li in invoice.lines if li.kind in ("wholesale", "refund", "adjustment")]
    assert -booked == sum(li.amount_minor for li in usage)


@settings(max_examples=200, deadline=None)
@given(
    plan=st.fixed_dictionaries(
        {
            "monthly_fee_minor": st.integers(0, 10**7),
            "per_order_fee_minor": st.integers(0, 10**4),
            "wholesale_fee_bp": st.integers(0, 10_000),
            "minimum_commitment_minor": st.integers(0, 10**8),
            "vat_rate_bp": st.integers(0, 2_000),
        }
    ),
    wholesale=st.lists(st.tuples(st.integers(1, 500), st.integers(1, 10**5)), max_size=5),
    orders=st.integers(0, 10**4),
    refunds=st.integers(0, 10**7),
    adjustments=st.lists(st.integers(-(10**6), 10**6).filter(bool), max_size=3),
)
def test_total_is_always_the_sum_of_the_lines(plan, wholesale, orders, refunds, adjustments):
    usage = Usage(
        wholesale=[LineDraft("wholesale", "x", q * u, "lst", q, u) for q, u in wholesale],
        orders=orders,
        refunds_count=1 if refunds else 0,
        refunds_minor=refunds,
        adjustments=[LineDraft("adjustment", "a", a) for a in adjustments],
    )
    lines = price_lines(plan, usage)
    *body, vat = lines
    subtotal = sum(line.amount_minor for line in body)
    assert vat.kind == "vat" and [line.kind for line in body].count("vat") == 0
    assert abs(vat.amount_minor * 10_000 - subtotal * plan["vat_rate_bp"]) <= 5_000
    net = sum(q * u for q, u in wholesale) - refunds
    fees = sum(line.amount_minor for line in body if line.kind in invoices.FEE_KINDS)
    # the minimum commitment is met exactly when it applies
    if any(line.kind == "minimum_commitment" for line in body):
        usage_fees = fees - plan["monthly_fee_minor"]
        assert max(net, 0) + usage_fees == plan["minimum_commitment_minor"]


def test_month_boundaries_follow_the_plans_timezone(session, partner_a):
    late_november = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    early_december = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # 00:30 on 1 December there
    _orders_at(session, partner_a, [late_november, early_december])

    november, _ = invoices.generate_invoice(session, TEST_ACTOR, partner_a, "2026-11")
    december, _ = invoices.generate_invoice(session, TEST_ACTOR, partner_a, "2026-12")
    assert [(line.kind, line.quantity) for line in november.lines][0] == ("wholesale", 1)
    assert [(line.kind, line.quantity) for line in december.lines][0] == ("wholesale", 1)
    assert november.period_start == datetime(2026, 10, 31, 16, tzinfo=UTC)

    # the same orders counted in UTC months: both are November's
    plans.set_plan(session, TEST_ACTOR, partner_a.id, {"timezone": "UTC"})
    invoices.void_invoice(session, TEST_ACTOR, november.id, "timezone changed")
    utc_november, created = invoices.generate_invoice(session, TEST_ACTOR, partner_a, "2026-11")
    assert created and utc_november.revision == 2 and utc_november.number.endswith("-R2")
    assert utc_november.lines[0].quantity == 2


def test_generating_twice_makes_one_invoice(app, session, partner_a, partner_b, platform):
    _orders_at(session, partner_a, [datetime(2026, 11, 3, tzinfo=UTC)])
    runner = app.test_cli_runner()
    first = runner.invoke(args=["billing", "invoice", "--month", "2026-11"])
    second = runner.invoke(args=["billing", "invoice", "--month", "2026-11"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "QY-PARTNER-A-2026-11 draft (created)" in first.output
    assert "QY-PARTNER-A-2026-11 draft (exists)" in second.output
    answers = [
        platform.post(
            f"/api/v1/platform/partners/{partner_a.id}/invoices", json={"month": "2026-11"}
        )
        for _ in range(2)
    ]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].get_json()["id"] == answers[1].get_json()["id"]
    count = session.scalar(
        select(func.count(Invoice.id)).where(
            Invoice.partner_id == partner_a.id, Invoice.period == "2026-11"
        )
    )
    assert count == 1
    assert {p.id for p in (partner_a, partner_b)} == set(
        session.scalars(select(Invoice.partner_id).where(Invoice.period == "2026-11"))
    )


def test_issue_books_fees_and_vat_and_void_gives_them_back(session, partner_a):
    invoice = _priced_november(session, partner_a)
    account = session.get_one(PartnerAccount, partner_a.id)
    before = account.balance_minor
    with pytest.raises(invoices.PeriodOpen):
        invoices.issue_invoice(
            session, TEST_ACTOR, invoice.id, now=datetime(2026, 11, 30, tzinfo=UTC)
        )
    invoices.issue_invoice(session, TEST_ACTOR, invoice.id, now=NOVEMBER_END)
    session.commit()
    fees = 50_000 + 300 + 66 + 5234
    assert account.balance_minor == before - fees - 3570
    kinds = session.execute(
        select(AccountEntry.kind, AccountEntry.amount_minor)
        .where(AccountEntry.partner_id == partner_a.id, AccountEntry.kind.in_(("fee", "tax")))
        .order_by(AccountEntry.id)
    ).all()
    assert [tuple(k) for k in kinds] == [("fee", -fees), ("tax", -3570)]
    issued = events_of_type(session, "invoice.issued", partner_a.id)
    assert [e.data["total"] for e in issued] == [{"amount": 63_070, "currency": "CNY"}]

    invoices.void_invoice(session, TEST_ACTOR, invoice.id, "wrong plan")
    session.commit()
    assert account.balance_minor == before
    assert invoice.status == "void"
    total = session.scalar(
        select(func.sum(AccountEntry.amount_minor)).where(AccountEntry.partner_id == partner_a.id)
    )
    assert total == account.balance_minor


def test_an_issued_invoice_never_changes(session, partner_a, platform):
    invoice = _priced_november(session, partner_a)
    invoices.issue_invoice(session, TEST_ACTOR, invoice.id, now=NOVEMBER_END)
    session.commit()
    frozen = [(line.kind, line.amount_minor) for line in invoice.lines]
    base = f"/api/v1/platform/invoices/{invoice.id}"

    patched = platform.patch(base, json={"notes": "changed"})
    assert patched.status_code == 409 and patched.get_json()["code"] == "invoice_immutable"
    again = platform.post(f"{base}/issue")
    assert again.status_code == 409 and again.get_json()["code"] == "invoice_state_conflict"
    # new activity in the month, then generation again: the issued invoice is returned as it was
    billing.adjust(session, TEST_ACTOR, partner_a.id, -999, "late fee")
    _date_entries(session, partner_a, "adjustment", datetime(2026, 11, 20, tzinfo=UTC))
    session.commit()
    regenerated = platform.post(
        f"/api/v1/platform/partners/{partner_a.id}/invoices", json={"month": "2026-11"}
    )
    assert regenerated.get_json()["id"] == invoice.id
    assert [(li["kind"], li["amount_minor"]) for li in regenerated.get_json()["lines"]] == frozen

    # whatever code path tries, the flush refuses
    session.expire_all()
    invoice = session.get_one(Invoice, invoice.id)
    for change in (
        lambda inv: setattr(inv.lines[0], "amount_minor", 1),
        lambda inv: setattr(inv, "total_minor", 1),
        lambda inv: session.delete(inv.lines[-1]),
        lambda inv: setattr(inv, "status", "draft"),
    ):
        change(invoice)
        with pytest.raises(InvoiceImmutable):
            session.flush()
        session.rollback()
        invoice = session.get_one(Invoice, invoice.id)

    paid = platform.post(f"{base}/mark-paid", json={"payment_ref": "BANK-7781"})
    assert paid.status_code == 200 and paid.get_json()["status"] == "paid"
    void = platform.post(f"{base}/void", json={"reason": "oops"})
    assert void.status_code == 409


def test_corrections_are_credit_notes(session, partner_a, platform):
    invoice = _priced_november(session, partner_a)
    invoices.issue_invoice(session, TEST_ACTOR, invoice.id, now=NOVEMBER_END)
    session.commit()
    balance = session.get_one(PartnerAccount, partner_a.id).balance_minor
    url = f"/api/v1/platform/invoices/{invoice.id}/credit-notes"

    too_much = platform.post(
        url, json={"amount": {"amount": 59_501}, "reason": "x"}, headers={"Idempotency-Key": "cn0"}
    )
    assert too_much.status_code == 422
    note = platform.post(
        url,
        json={"amount": {"amount": 5234}, "reason": "commitment waived"},
        headers={"Idempotency-Key": "cn1"},
    )
    assert note.status_code == 201, note.get_json()
    body = note.get_json()
    assert body["kind"] == "credit_note" and body["status"] == "issued"
    assert body["number"] == f"{invoice.number}-CN1"
    assert [li["amount_minor"] for li in body["lines"]] == [-5234, -314]
    assert body["total"] == {"amount": -5548, "currency": "CNY"}
    session.expire_all()
    assert session.get_one(PartnerAccount, partner_a.id).balance_minor == balance + 5548
    assert session.get_one(Invoice, invoice.id).total_minor == 63_070


def test_partner_reads_issued_invoices_as_json_csv_and_pdf(
    app, session, partner_a, api_a, platform
):
    invoice = _priced_november(session, partner_a)
    assert api_a.get(f"/api/v1/invoices/{invoice.id}").status_code == 404  # drafts stay ours
    assert api_a.get("/api/v1/invoices").get_json()["data"] == []
    invoices.issue_invoice(session, TEST_ACTOR, invoice.id, now=NOVEMBER_END)
    session.commit()

    listed = api_a.get("/api/v1/invoices?period=2026-11").get_json()["data"]
    assert [i["id"] for i in listed] == [invoice.id]
    as_json = api_a.get(f"/api/v1/invoices/{invoice.id}").get_json()
    assert as_json["total"] == {"amount": 63_070, "currency": "CNY"}

    as_csv = api_a.get(f"/api/v1/invoices/{invoice.id}", headers={"Accept": "text/csv"})
    assert as_csv.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert as_csv.data.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with a BOM
    line_section, total_section = as_csv.data.decode("utf-8-sig").split("\r\n\r\n")
    lines = list(csv.DictReader(io.StringIO(line_section)))
    assert sum(int(r["amount_minor"]) for r in lines) == 63_070
    totals = {r["total"]: r for r in csv.DictReader(io.StringIO(total_section))}
    assert list(totals) == ["subtotal", "vat", "total"]
    assert totals["total"]["amount"] == "630.70" and totals["vat"]["amount_minor"] == "3570"

    as_pdf = api_a.get(f"/api/v1/invoices/{invoice.id}?format=pdf")
    assert as_pdf.mimetype == "application/pdf"
    assert as_pdf.headers["Content-Disposition"].endswith(f'{invoice.number}.pdf"')
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(as_pdf.data)).pages)
    for expected in (
        partner_a.branding["display_name"],
        partner_a.name,
        invoice.number,
        "630.70",  # total
        "595.00",  # subtotal
        "35.70",  # VAT
        "VAT 6%",
        "91310000MA1DEMO00X",  # the issuer's tax id (settings)
    ):
        assert expected in text, expected
    assert text.count("VAT 6%") == 1  # once, in the totals
    fonts = [
        font.get_object()["/FontDescriptor"]
        for page in PdfReader(io.BytesIO(as_pdf.data)).pages
        for font in page["/Resources"]["/Font"].values()
        if "/FontDescriptor" in font.get_object()
    ]
    if Path(app.config["PDF_FONT"]).is_file():
        assert fonts and all("/FontFile2" in d for d in fonts)  # embedded
    bad = api_a.get(f"/api/v1/invoices/{invoice.id}?format=xml")
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"


def test_billing_plan_by_api_and_partner_file(session, partner_a, platform, tmp_path, repo_root):
    url = f"/api/v1/platform/partners/{partner_a.id}/billing-plan"
    assert platform.get(url).get_json()["vat_rate_bp"] == 600  # defaults before any plan
    put = platform.put(url, json={"monthly_fee": {"amount": 30_000}, "wholesale_fee_bp": 120})
    assert put.status_code == 200
    assert put.get_json()["monthly_fee"] == {"amount": 30_000, "currency": "CNY"}
    assert put.get_json()["timezone"] == "Asia/Shanghai"
    bad = platform.put(url, json={"timezone": "Mars/Olympus", "vat_rate_bp": 10_001})
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]) == {"timezone", "vat_rate_bp"}
    assert platform.get(url).get_json()["wholesale_fee_bp"] == 120  # nothing half-written

    from app.partners.service import sync_partners

    folder = tmp_path / "partner-a"
    folder.mkdir()
    source = repo_root / "partners" / "jinhai-bank" / "partner.yaml"
    text = source.read_text(encoding="utf-8").replace("slug: jinhai-bank", "slug: partner-a")
    (folder / "partner.yaml").write_text(text.split("\n# Listings")[0], encoding="utf-8")
    report = sync_partners(session, TEST_ACTOR, tmp_path)
    assert "billing_plan.monthly_fee_minor" in report.updated["partner-a"]
    plan = plans.plan_for(session, partner_a.id)
    assert (plan.monthly_fee_minor, plan.wholesale_fee_bp) == (50_000, 150)

    (folder / "partner.yaml").write_text(
        text.split("\n# Listings")[0].replace("  timezone: Asia/Shanghai", "  timezone: Nowhere"),
        encoding="utf-8",
    )
    report = sync_partners(session, TEST_ACTOR, tmp_path)
    assert any("billing_plan.timezone" in error for error in report.errors), report.errors


def test_manual_adjustment_needs_a_reason_and_shows_who(session, partner_a, platform, api_a):
    url = f"/api/v1/platform/partners/{partner_a.id}/account/adjustments"
    missing = platform.post(
        url, json={"amount": {"amount": -300}}, headers={"Idempotency-Key": "a1"}
    )
    assert missing.status_code == 422 and "reason" in missing.get_json()["errors"]
    made = platform.post(
        url,
        json={"amount": {"amount": -300}, "reason": "chargeback fee"},
        headers={"Idempotency-Key": "a2"},
    )
    assert made.status_code == 201
    assert made.get_json()["actor"] == f"client:{platform.creds.client_id}"
    entries = api_a.get("/api/v1/account/entries?kind=adjustment").get_json()["data"]
    assert [(e["amount"]["amount"], e["reason"]) for e in entries] == [(-300, "chargeback fee")]


def test_issuing_past_the_threshold_announces_low_balance(session, partner_a):
    invoice = _priced_november(session, partner_a)
    available = session.get_one(PartnerAccount, partner_a.id).available.amount
    billing.set_low_balance_threshold(session, TEST_ACTOR, partner_a.id, available - 1000)
    session.commit()
    invoices.issue_invoice(session, TEST_ACTOR, invoice.id, now=NOVEMBER_END)
    session.commit()
    assert len(events_of_type(session, "partner.balance_low", partner_a.id)) == 1


@pytest.mark.postgres
def test_concurrent_generation_on_postgres_makes_one_invoice(app, session, partner_a):
    """Eight operators (or a cron and an operator) generating the same month at once."""
    import threading

    from app.extensions import db

    _orders_at(session, partner_a, [datetime(2026, 11, 3, tzinfo=UTC)])
    session.commit()
    db.session.remove()
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def generate() -> None:
        try:
            with app.app_context(), db.transaction() as own:
                partner = own.get_one(type(partner_a), partner_a.id)
                barrier.wait()
                invoices.generate_invoice(own, TEST_ACTOR, partner, "2026-11")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=generate) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = db.session().scalars(select(Invoice).where(Invoice.partner_id == partner_a.id)).all()
    assert len(rows) == 1 and rows[0].lines[0].quantity == 1


def test_the_scheduled_job_drafts_last_months_invoices(session, partner_a, partner_b):
    from app.billing.jobs import generate_monthly_invoices

    generate_monthly_invoices()
    generate_monthly_invoices()
    period = invoices.previous_period(utcnow(), "Asia/Shanghai")
    made = session.execute(select(Invoice.partner_id, Invoice.status, Invoice.period)).all()
    assert sorted(tuple(r) for r in made) == sorted(
        [(partner_a.id, "draft", period), (partner_b.id, "draft", period)]
    )


SHOTS = Path(os.environ.get("QUANYI_SCREENSHOTS", "/tmp/quanyi-screenshots"))


@pytest.mark.skipif(
    shutil.which("pdftoppm") is None and os.environ.get("REQUIRE_SERVICES") != "1",
    reason="poppler-utils is not installed (apt-get install poppler-utils)",
)
def test_the_invoice_pdf_renders_and_its_chinese_names_extract(session, api_a, tmp_path):
    partner = make_partner(
        session,
        "jinhai-bank",  # the demo partner's folder holds the logo the PDF draws
        name="金海银行 Jinhai Bank",
        branding={
            "display_name": "金海银行信用卡积分商城",
            "logo_url": "/static/partners/jinhai-bank/logo.svg",
            "primary_color": "#B0232A",
            "accent_color": "#F2C14E",
        },
    )
    invoice = _priced_november(session, partner)
    invoices.issue_invoice(session, TEST_ACTOR, invoice.id, now=NOVEMBER_END)
    session.commit()
    client = make_client(session, partner)
    api = ApiUser.login(api_a.http, client)
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(api.get(f"/api/v1/invoices/{invoice.id}?format=pdf").data)

    text = subprocess.run(
        ["pdftotext", "-layout", pdf, "-"], capture_output=True, text=True, check=True
    ).stdout
    for name in (
        "金海银行信用卡积分商城",
        "金海银行 Jinhai Bank",
        "权益科技（演示）有限公司",
        "税号",
    ):
        assert name in text, name
    assert any(line.description in text for line in invoice.lines if "优酷" in line.description)
    SHOTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "70", "-singlefile", pdf, SHOTS / "invoice"], check=True
    )
    assert (SHOTS / "invoice.png").stat().st_size > 10_000

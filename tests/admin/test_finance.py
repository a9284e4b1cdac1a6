"""Finance in the portal: the low-balance alert mails its recipients at most once a day; a
partner tells the platform about a transfer and an operator credits it once (also when two
operators click at once, on PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.accounts import alerts, topups
from app.accounts.models import PartnerAccount, TopUpRequest
from app.core.audit import Actor, AuditLog
from app.core.db import utcnow
from app.core.vault import current_vault
from tests.admin.conftest import make_staff, post_form, sign_in
from tests.factories import fund, make_member, place, sellable_card_key_listing


def _account(session, partner_id: str) -> PartnerAccount:
    session.expire_all()
    return session.get_one(PartnerAccount, partner_id)


def test_the_alert_mails_each_recipient_once_a_day_however_often_the_balance_dips(
    app, session, browser_of, partner_a, mailbox
):
    fund(session, partner_a, amount_minor=10_000)  # ¥100; an order costs ¥22 wholesale
    listing = sellable_card_key_listing(session, partner_a)
    member = make_member(session, partner_a, "m-1", points=100_000)
    finance = make_staff(session, partner_a.id, "finance")
    portal = browser_of()
    sign_in(portal, finance)
    saved = post_form(
        portal,
        "/admin/finance",
        {"threshold": "90", "recipients": "cfo@example.com\nOps@Example.com"},
        "/admin/finance/threshold",
    )
    assert saved.status_code == 302
    assert _account(session, partner_a.id).low_balance_recipients == [
        "cfo@example.com",
        "ops@example.com",
    ]

    place(session, partner_a, member, listing)  # ¥78 left: below ¥90
    sent = mailbox()
    assert sorted(m["To"] for m in sent) == ["cfo@example.com", "ops@example.com"]
    assert "¥78.00" in sent[0].get_payload(decode=True).decode()

    fund(session, partner_a, amount_minor=5_000)  # back above: the next fall is a new crossing
    place(session, partner_a, member, listing)
    place(session, partner_a, member, listing)
    assert len(mailbox()) == 2  # the webhook event fired again; no second mail within a day

    vault, later = current_vault(), utcnow() + timedelta(hours=25)
    assert alerts.send_alert(session, vault, partner_a.id, later)  # a day on, still low
    session.commit()
    assert len(mailbox()) == 4


def test_bad_recipients_are_refused_and_nothing_is_saved(session, browser_of, partner_a):
    owner = make_staff(session, partner_a.id, "owner")
    portal = browser_of()
    sign_in(portal, owner)
    post_form(
        portal,
        "/admin/finance",
        {"threshold": "50", "recipients": "not-an-address"},
        "/admin/finance/threshold",
    )
    account = _account(session, partner_a.id)
    assert account.low_balance_threshold_minor is None and account.low_balance_recipients == []


def test_a_top_up_request_is_credited_once_by_an_operator(session, browser_of, partner_a):
    finance = make_staff(session, partner_a.id, "finance")
    portal = browser_of()
    sign_in(portal, finance)
    sent = post_form(
        portal,
        "/admin/finance",
        {"amount": "12345.67", "payment_reference": "ICBC-20261203-0001", "note": "Dec"},
        "/admin/finance/top-ups",
    )
    assert sent.status_code == 302
    request = session.scalars(select(TopUpRequest)).one()
    assert (request.amount_minor, request.status) == (1_234_567, "requested")
    assert "ICBC-20261203-0001" in portal.get("/admin/finance").get_data(as_text=True)

    support = browser_of()
    sign_in(support, make_staff(session, None, "support"))
    assert "ICBC-20261203-0001" in support.get("/admin/platform/top-ups").get_data(as_text=True)
    credit = f"/admin/platform/top-ups/{request.id}/credit"
    assert post_form(support, "/admin/platform/top-ups", {}, credit).status_code == 403

    operator = browser_of()
    sign_in(operator, make_staff(session, None, "operator"))
    assert post_form(operator, "/admin/platform/top-ups", {}, credit).status_code == 302
    assert _account(session, partner_a.id).balance_minor == 1_234_567
    again = post_form(operator, "/admin/platform/top-ups?status=", {}, credit)
    assert again.status_code == 409
    assert _account(session, partner_a.id).balance_minor == 1_234_567
    actions = session.scalars(select(AuditLog.action).where(AuditLog.target_id == request.id)).all()
    assert sorted(actions) == ["top_up.credited", "top_up.requested"]


def test_viewers_cannot_request_top_ups_nor_see_another_partners(
    session, browser_of, partner_a, partner_b
):
    topups.request_top_up(session, Actor("staff", "stf_x"), partner_b.id, 100, "B-REF", None)
    session.commit()
    viewer = make_staff(session, partner_a.id, "viewer")
    portal = browser_of()
    sign_in(portal, viewer)
    page = portal.get("/admin/finance").get_data(as_text=True)
    assert "B-REF" not in page and 'data-testid="top-up-form"' not in page
    refused = post_form(
        portal,
        "/admin/finance",
        {"amount": "1", "payment_reference": "X"},
        "/admin/finance/top-ups",
    )
    assert refused.status_code == 403
    alert = post_form(portal, "/admin/finance", {"threshold": "1"}, "/admin/finance/threshold")
    assert alert.status_code == 403


@pytest.mark.postgres
def test_two_operators_crediting_at_once_credit_once(app, session, partner_a):
    from app.extensions import db

    request = topups.request_top_up(
        session, Actor("staff", "stf_f"), partner_a.id, 50_000, "REF-RACE", None
    )
    session.commit()
    request_id = request.id
    db.session.remove()
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def credit(n: int) -> None:
        try:
            with app.app_context(), db.transaction() as own:
                barrier.wait()
                topups.decide(own, Actor("staff", f"stf_op{n}"), request_id, True, None)
            outcomes.append("credited")
        except topups.TopUpAlreadyDecided:
            outcomes.append("decided")

    threads = [threading.Thread(target=credit, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["credited"] + ["decided"] * 5
    assert _account(db.session(), partner_a.id).balance_minor == 50_000

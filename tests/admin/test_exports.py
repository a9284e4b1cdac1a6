"""Exports in the portal: built in the background as a UTF-8 CSV with a BOM (Excel reads the
Chinese), only the asking partner's rows within the partner-local days asked for, downloaded
only by staff who may read that kind of data; schedules queue each period once and mail the
link."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.core.audit import Actor
from app.core.queue import drain
from app.exports import service
from app.exports.models import Export, ExportSchedule
from app.orders.models import Order
from tests.admin.conftest import make_staff, post_form, sign_in
from tests.factories import fund, make_member, place, sellable_card_key_listing


def _orders(session, partner, n: int) -> list[Order]:
    fund(session, partner)
    listing = sellable_card_key_listing(session, partner, codes=n)
    member = make_member(session, partner, "m-1", points=1_000_000, display_name="张三")
    return [place(session, partner, member, listing) for _ in range(n)]


def _csv(answer) -> list[dict[str, str]]:
    body = answer.data
    assert body.startswith("\ufeff".encode())  # the BOM
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def _ready(session, export_id: str) -> Export:
    session.expire_all()
    return session.get_one(Export, export_id)


def test_an_orders_export_holds_the_partners_rows_of_the_days_asked(
    app, session, browser_of, partner_a, partner_b, empty_queues
):
    mine = _orders(session, partner_a, 3)
    _orders(session, partner_b, 1)
    today = datetime.now(ZoneInfo(partner_a.timezone)).date()
    support = make_staff(session, partner_a.id, "support")
    portal = browser_of()
    sign_in(portal, support)
    asked = post_form(
        portal,
        "/admin/exports",
        {"kind": "orders", "date_from": str(today - timedelta(days=1)), "date_to": str(today)},
    )
    assert asked.status_code == 302
    export = session.scalars(select(Export)).one()
    assert export.status == "queued"
    assert 'hx-trigger="every 2s"' in portal.get("/admin/exports").get_data(as_text=True)
    drain(app)
    assert _ready(session, export.id).status == "ready"
    rows = _csv(portal.get(f"/admin/exports/{export.id}/download"))
    assert sorted(r["order_id"] for r in rows) == sorted(o.id for o in mine)
    assert {r["member"] for r in rows} == {"m-1"} and rows[0]["wholesale"] == "22.00"
    assert rows[0]["created_at"].endswith("+08:00")  # the partner's time

    other = browser_of()
    sign_in(other, make_staff(session, partner_b.id, "owner"))
    assert other.get(f"/admin/exports/{export.id}/download").status_code == 404
    past = service.request_export(
        session, Actor("staff", "x"), partner_a.id, "orders", date(2020, 1, 1), date(2020, 1, 2)
    )
    session.commit()
    drain(app)
    assert _ready(session, past.id).rows == 0


def test_each_kind_needs_the_permission_that_reads_its_rows(
    app, session, browser_of, partner_a, empty_queues, monkeypatch
):
    from app.core.principal import PARTNER_ROLES

    _orders(session, partner_a, 1)
    members = service.request_export(
        session, Actor("staff", "x"), partner_a.id, "members", None, None
    )
    today = datetime.now(UTC).date()
    ledger = service.request_export(
        session,
        Actor("staff", "x"),
        partner_a.id,
        "ledger",
        today - timedelta(days=1),
        today + timedelta(days=1),
    )
    session.commit()
    drain(app)
    # a role that reads orders but not the account (no built-in role is one today)
    monkeypatch.setitem(PARTNER_ROLES, "support", PARTNER_ROLES["support"] - {"billing:read"})
    portal = browser_of()
    sign_in(portal, make_staff(session, partner_a.id, "support"))
    assert portal.get(f"/admin/exports/{ledger.id}/download").status_code == 403
    refused = post_form(
        portal,
        "/admin/exports",
        {"kind": "ledger", "date_from": "2026-01-01", "date_to": "2026-01-02"},
    )
    assert refused.status_code == 403
    rows = _csv(portal.get(f"/admin/exports/{members.id}/download"))
    assert [(r["external_id"], r["display_name"], r["points_balance"]) for r in rows] == [
        ("m-1", "张三", str(1_000_000 - 1000))
    ]
    finance = browser_of()
    sign_in(finance, make_staff(session, partner_a.id, "finance"))
    entries = _csv(finance.get(f"/admin/exports/{ledger.id}/download"))
    assert [r["kind"] for r in entries] == ["topup", "charge"]


def test_a_schedule_queues_each_period_once_and_mails_the_link(
    app, session, browser_of, partner_a, empty_queues, mailbox
):
    _orders(session, partner_a, 2)
    owner = make_staff(session, partner_a.id, "owner")
    portal = browser_of()
    sign_in(portal, owner)
    made = post_form(
        portal,
        "/admin/exports",
        {"kind": "orders", "frequency": "daily", "recipients": "ops@example.com"},
        "/admin/exports/schedules",
    )
    assert made.status_code == 302
    schedule = session.scalars(select(ExportSchedule)).one()
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert service.run_schedules(session, tomorrow) == 1
    assert service.run_schedules(session, tomorrow) == 0  # that period is queued already
    session.commit()
    (message,) = mailbox()
    export = session.scalars(select(Export).where(Export.schedule_id == schedule.id)).one()
    assert f"/admin/exports/{export.id}/download" in message.get_payload(decode=True).decode()
    assert _ready(session, export.id).rows == 2  # today's orders, exported "tomorrow"
    cancel = f"/admin/exports/schedules/{schedule.id}/cancel"
    assert post_form(portal, "/admin/exports", {}, cancel).status_code == 302
    assert service.run_schedules(session, tomorrow + timedelta(days=1)) == 0


def test_periods_of_daily_and_weekly_schedules():
    daily = ExportSchedule(frequency="daily", last_period_to=None)
    weekly = ExportSchedule(frequency="weekly", last_period_to=None)
    wednesday = date(2026, 12, 2)
    assert service.due_period(daily, wednesday) == (date(2026, 12, 1), date(2026, 12, 1))
    assert service.due_period(weekly, wednesday) == (date(2026, 11, 23), date(2026, 11, 29))
    weekly.last_period_to = date(2026, 11, 29)
    assert service.due_period(weekly, date(2026, 12, 6)) is None  # Sunday: the week is not over
    assert service.due_period(weekly, date(2026, 12, 7)) == (date(2026, 11, 30), date(2026, 12, 6))


def test_expired_exports_lose_their_file(app, session, partner_a, empty_queues):
    export = service.request_export(
        session, Actor("staff", "x"), partner_a.id, "members", None, None
    )
    session.commit()
    drain(app)
    service.run_schedules(session, datetime.now(UTC) + timedelta(days=8))
    session.commit()
    assert _ready(session, export.id).status == "expired"
    assert session.scalar(select(Export.content).where(Export.id == export.id)) is None

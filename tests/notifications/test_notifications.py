"""Members hear of their orders once per thing that happened, in their language and the
partner's wording, through the partner's channel; never after opting out, never more than
five an hour."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from app.core.db import utcnow
from app.entitlements.models import Entitlement
from app.notifications import jobs, service
from app.notifications.models import Notification
from app.webhooks.models import Event
from tests.admin.conftest import mailbox  # noqa: F401 - the fixture
from tests.factories import fund, make_member, place, sellable_card_key_listing


@pytest.fixture
def outbox(app: Flask, tmp_path: Path):
    app.config["NOTIFY_OUTBOX_DIR"] = str(tmp_path)
    yield tmp_path / "sms"
    app.config["NOTIFY_OUTBOX_DIR"] = str(tmp_path.parent / "unused")


@pytest.fixture
def shop(session, partner_a):
    fund(session, partner_a)
    return sellable_card_key_listing(session, partner_a, codes=20, points=100)


def _texts(outbox: Path) -> list[str]:
    return sorted(p.read_text("utf-8") for p in outbox.glob("*.txt")) if outbox.exists() else []


def _notes(session) -> list[Notification]:
    session.expire_all()
    return list(session.scalars(select(Notification).order_by(Notification.id)))


def test_a_delivered_code_is_texted_once_in_the_partners_wording(session, partner_a, shop, outbox):
    member = make_member(session, partner_a, "m1", points=1000, phone="13912345678")
    place(session, partner_a, member, shop)
    assert jobs.run() == 1
    (text,) = _texts(outbox)
    assert text.startswith("To: 13912345678")
    assert "partner-a mall" in text and "请在商城“我的权益”中查看卡密" in text
    assert jobs.run() == 0  # the same event read again tells no one twice
    assert len(_texts(outbox)) == 1
    (note,) = _notes(session)
    assert (note.kind, note.status, note.channel) == ("code_delivered", "sent", "sms")


def test_a_pass_reads_from_where_the_last_began_less_late_commits(session, partner_a, shop):
    member = make_member(session, partner_a, "m1", points=1000, phone="13912345678")
    place(session, partner_a, member, shop)
    made = utcnow()
    later = made + timedelta(minutes=30)
    late = service.LATE_COMMIT
    # the last pass began after the event plus LATE_COMMIT: it was read then, not again
    assert service.collect(session, later, last_pass=made + late + timedelta(minutes=1)) == 0
    # no pass known: the last EVENT_WINDOW, and no further
    assert service.collect(session, made + service.EVENT_WINDOW + timedelta(minutes=1)) == 0
    # the last pass began less than LATE_COMMIT after it: read again (it may have been late)
    assert service.collect(session, later, last_pass=made + late - timedelta(minutes=1)) == 1
    assert service.collect(session, later, last_pass=made) == 0  # told once
    assert [n.kind for n in _notes(session)] == ["code_delivered"]


def test_english_members_and_partner_templates(session, partner_a, shop, outbox):
    partner_a.notification_templates = {
        "code_delivered": {"en": "{{ mall }}: {{ product }} is yours. Enjoy!"}
    }
    session.commit()
    member = make_member(session, partner_a, "m1", points=1000, phone="13912345678", language="en")
    place(session, partner_a, member, shop)
    jobs.run()
    (text,) = _texts(outbox)
    assert "partner-a mall: " in text and "is yours. Enjoy!" in text


def test_opted_out_members_and_members_without_a_phone_are_not_texted(
    session, partner_a, shop, outbox
):
    quiet = make_member(session, partner_a, "m1", points=1000, phone="13912345678")
    quiet.notifications = False
    session.commit()
    nophone = make_member(session, partner_a, "m2", points=1000)
    place(session, partner_a, quiet, shop)
    place(session, partner_a, nophone, shop)
    assert jobs.run() == 0
    assert _texts(outbox) == []
    assert sorted(n.skip_reason for n in _notes(session)) == ["no_address", "opted_out"]


def test_no_more_than_five_an_hour(session, partner_a, shop, outbox):
    member = make_member(session, partner_a, "m1", points=10_000, phone="13912345678")
    for _ in range(7):
        place(session, partner_a, member, shop)
    assert jobs.run() == service.PER_HOUR
    assert [n.skip_reason for n in _notes(session)].count("rate_limited") == 2


def test_partners_that_send_their_own_get_notification_events(session, partner_a, shop, outbox):
    partner_a.notification_channel = "webhook"
    session.commit()
    member = make_member(session, partner_a, "m1", points=1000, phone="13912345678")
    order = place(session, partner_a, member, shop)
    assert jobs.run() == 1
    assert _texts(outbox) == []  # we text no one
    (event,) = session.scalars(select(Event).where(Event.type == "notification.code_delivered"))
    assert event.partner_id == partner_a.id and event.order_id == order.id
    assert event.data["member"] == "m1" and "partner-a mall" in event.data["text"]


def test_an_entitlement_expiring_within_three_days_is_told_once(session, partner_a, shop, outbox):
    member = make_member(session, partner_a, "m1", points=1000, phone="13912345678")
    member.notifications = False  # not the code's text: only the expiry's
    session.commit()
    order = place(session, partner_a, member, shop)
    jobs.run()
    member.notifications = True
    held = session.scalars(select(Entitlement).where(Entitlement.order_id == order.id)).one()
    held.valid_until = utcnow() + timedelta(days=2, hours=3)
    session.commit()
    assert jobs.run() == 1
    (text,) = _texts(outbox)
    assert "3天后到期" in text
    assert jobs.run() == 0


def test_a_failed_recharge_is_told_with_the_points_given_back(session, partner_a, outbox, client):
    """A delivery.failed event (the fulfillment engine's) becomes a recharge_failed text."""
    from app.fulfillment.models import Delivery
    from app.orders.service import refund_units
    from app.webhooks.outbox import record_event
    from tests.factories import make_listing, make_product

    fund(session, partner_a)
    product = make_product(session, "网易云音乐", fulfillment_type="direct_recharge")
    listing = make_listing(session, partner_a, product, points=300, wholesale_minor=900)
    member = make_member(session, partner_a, "m1", points=1000, phone="13912345678")
    order = place(session, partner_a, member, listing)
    delivery = session.scalars(select(Delivery).where(Delivery.order_id == order.id)).one()
    delivery.status = "failed"
    refund_units(session, order, [(delivery.item_id, delivery.unit)], "failed")
    data = {"delivery_id": delivery.id, "order_id": order.id, "reason": "failed"}
    record_event(session, "delivery.failed", data, partner_id=partner_a.id, order_id=order.id)
    session.commit()
    assert client.get("/healthz").status_code == 200
    jobs.run()
    (text,) = _texts(outbox)
    assert "充值失败，300积分已退回" in text


def test_every_kind_has_its_webhook_event_and_its_default_wording():
    from app.partners.models import NOTIFICATION_KINDS
    from app.webhooks.payloads import NOTIFICATION_EVENTS, PAYLOADS

    assert {f"notification.{kind}" for kind in NOTIFICATION_KINDS} == set(NOTIFICATION_EVENTS)
    assert set(NOTIFICATION_EVENTS) <= set(PAYLOADS)
    assert set(service.TEMPLATES) == set(NOTIFICATION_KINDS)
    assert all(set(t) == {"zh_CN", "en"} for t in service.TEMPLATES.values())


def test_partners_choosing_email_have_members_mailed_at_their_sealed_address(
    session,
    partner_a,
    shop,
    outbox,
    mailbox,  # noqa: F811 - the fixture imported above
    api_a,
):
    from app.members.models import Member
    from app.partners.models import Partner

    session.get_one(Partner, partner_a.id).notification_channel = "email"
    session.commit()
    answer = api_a.put("/api/v1/members/m1", json={"email": "zhang.san@example.com"})
    assert answer.get_json()["email"] == "z***@example.com"  # never shown in clear
    member = session.scalars(select(Member).where(Member.external_id == "m1")).one()
    assert b"zhang.san" not in member.email_blob  # sealed at rest
    make_member(session, partner_a, "m2", points=1000)  # no address: skipped
    member = session.scalars(select(Member).where(Member.external_id == "m1")).one()
    from app.members.service import grant_points

    grant_points(session, member, 1000, "test")
    session.commit()
    place(session, partner_a, member, shop)
    place(
        session,
        partner_a,
        session.scalars(select(Member).where(Member.external_id == "m2")).one(),
        shop,
    )
    assert jobs.run() == 1
    (mail,) = mailbox()
    from email.header import decode_header, make_header

    assert mail["To"] == "zhang.san@example.com"
    assert str(make_header(decode_header(mail["Subject"]))) == "您的卡密已发放"
    assert "partner-a mall" in mail.get_payload(decode=True).decode()
    assert _texts(outbox) == []
    assert sorted(n.skip_reason or "" for n in _notes(session)) == ["", "no_address"]

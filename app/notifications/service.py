"""Telling members what happened: a code delivered, a recharge completed or failed, an
entitlement expiring in 3 days, a case updated.

`collect` turns the recent events (and entitlements about to expire) into notification rows,
once per (kind, subject) whatever the number of passes. A pass reads the events from where the
last one began (less LATE_COMMIT, for events committed late) and renders only what was not
told, so a minute's pass costs the minute's events, not the hour's. `send_queued` hands each
row to the partner's channel: our SMS provider, e-mail (the mail outbox), or — for partners
that send their own — a `notification.<kind>` webhook event carrying the rendered text. A
member who opted out is never told; a member already told PER_HOUR times in the last hour is
not told again (skipped, not delayed: the entitlements page still shows everything).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.db import dialect_insert
from app.core.ids import id_floor, new_id
from app.core.mail import queue_mail
from app.core.vault import Vault
from app.entitlements.models import Entitlement
from app.fulfillment.models import Delivery
from app.members.models import Member
from app.members.service import member_email, member_phone
from app.notifications.models import Notification
from app.notifications.providers import Provider, SendFailed
from app.orders.models import Case, Order, OrderItem
from app.partners.models import Partner
from app.webhooks.outbox import record_event

EVENT_WINDOW = timedelta(hours=1)  # the furthest back a pass reads (the first, or after a pause)
LATE_COMMIT = timedelta(minutes=5)  # a pass reads this far before the last one began
EXPIRING_WITHIN = timedelta(days=3)
PER_HOUR = 5
MAX_ATTEMPTS = 5
DEFAULT_LANGUAGE = "zh_CN"

# partners override any of these in partner.yaml (`notifications.templates.<kind>.<lang>`);
# variables: mall, product, points, points_unit, days, case_status
TEMPLATES: dict[str, dict[str, str]] = {
    "code_delivered": {
        "zh_CN": "【{{ mall }}】您兑换的{{ product }}已发放，请在商城“我的权益”中查看卡密。",
        "en": "[{{ mall }}] Your {{ product }} is ready: open My entitlements to see the code.",
    },
    "recharge_completed": {
        "zh_CN": "【{{ mall }}】您兑换的{{ product }}已充值到账。",
        "en": "[{{ mall }}] Your {{ product }} has been credited to your account.",
    },
    "recharge_failed": {
        "zh_CN": "【{{ mall }}】很抱歉，{{ product }}充值失败，"
        "{{ points }}{{ points_unit }}已退回。",
        "en": "[{{ mall }}] Sorry, {{ product }} could not be delivered;"
        " {{ points }} {{ points_unit }} went back to you.",
    },
    "entitlement_expiring": {
        "zh_CN": "【{{ mall }}】您的{{ product }}将在{{ days }}天后到期，请尽快使用。",
        "en": "[{{ mall }}] Your {{ product }} expires in {{ days }} days: use it soon.",
    },
    "case_updated": {
        "zh_CN": "【{{ mall }}】您反馈的{{ product }}问题{{ '已处理' if case_status == 'resolved'"
        " else '已受理' }}，详情请在商城查看。",
        "en": "[{{ mall }}] Your report about {{ product }} has been"
        " {{ 'resolved' if case_status == 'resolved' else 'received' }}; see the mall.",
    },
}
# the subject of an e-mail (the text above is its body)
SUBJECTS: dict[str, dict[str, str]] = {
    "code_delivered": {"zh_CN": "您的卡密已发放", "en": "Your code is ready"},
    "recharge_completed": {"zh_CN": "充值已到账", "en": "Your recharge arrived"},
    "recharge_failed": {
        "zh_CN": "充值失败，积分已退回",
        "en": "A recharge failed; points returned",
    },
    "entitlement_expiring": {"zh_CN": "权益即将到期", "en": "An entitlement expires soon"},
    "case_updated": {"zh_CN": "您反馈的问题有新进展", "en": "News about your report"},
}
_ENV = SandboxedEnvironment(autoescape=False)  # partners' templates: no access to internals


@dataclass(frozen=True)
class Draft:
    kind: str
    subject_id: str
    member_id: str
    partner_id: str
    order_id: str | None
    values: dict[str, Any]


# --- collecting ------------------------------------------------------------------------------


def collect(session: Session, now: datetime, last_pass: datetime | None = None) -> int:
    """Notification rows for the events since the pass that began at `last_pass` (None: the
    last EVENT_WINDOW) and the entitlements expiring within 3 days; returns how many are new."""
    since = now - EVENT_WINDOW
    if last_pass is not None:
        since = max(since, last_pass - LATE_COMMIT)
    drafts = _from_events(session, since) + _expiring(session, now)
    return sum(_add(session, draft) for draft in drafts)


# events whose notification is about a row the event names (a case's is about its status too)
_EVENT_SUBJECT = {"entitlement.created": "entitlement_id", "delivery.failed": "delivery_id"}
_EVENT_KINDS = ("code_delivered", "recharge_completed", "recharge_failed")


def _from_events(session: Session, since: datetime) -> list[Draft]:
    from app.webhooks.models import Event

    events = session.execute(
        select(Event.type, Event.data).where(
            Event.id >= id_floor("evt", since),
            Event.type.in_(
                ("entitlement.created", "delivery.failed", "case.opened", "case.resolved")
            ),
        )
    ).all()
    told = _told(
        session, [e.data[_EVENT_SUBJECT[e.type]] for e in events if e.type in _EVENT_SUBJECT]
    )
    drafts: list[Draft] = []
    for type_, data in events:
        if type_ in _EVENT_SUBJECT and data[_EVENT_SUBJECT[type_]] in told:
            continue  # read again for a late commit, told already
        draft = _draft_of(session, type_, data)
        if draft is not None:
            drafts.append(draft)
    return drafts


def _told(session: Session, subjects: list[str], chunk: int = 1000) -> set[str]:
    """Those of `subjects` a notification was made about already."""
    told: set[str] = set()
    for start in range(0, len(subjects), chunk):
        told.update(
            session.scalars(
                select(Notification.subject_id).where(
                    Notification.kind.in_(_EVENT_KINDS),  # the (kind, subject_id) key serves it
                    Notification.subject_id.in_(subjects[start : start + chunk]),
                )
            )
        )
    return told


def _draft_of(session: Session, type_: str, data: dict[str, Any]) -> Draft | None:
    if type_ == "entitlement.created":
        held = session.get(Entitlement, data["entitlement_id"])
        if held is None:
            return None
        kind = "code_delivered" if held.code_id else "recharge_completed"
        return _about(held.partner_id, held.member_id, held.order_id, held.id, kind,
                      product=held.snapshot.get("product_name", ""))  # fmt: skip
    if type_ == "delivery.failed":
        delivery = session.get(Delivery, data["delivery_id"])
        if delivery is None:
            return None
        order, item = _order_and_item(session, delivery)
        return _about(delivery.partner_id, order.member_id, order.id, delivery.id,
                      "recharge_failed", product=item.snapshot.get("product_name", ""),
                      points=item.unit_points)  # fmt: skip
    case = session.get(Case, data["case_id"])
    if case is None:
        return None
    order, item = _order_and_item(session, session.get_one(Delivery, case.delivery_id))
    return _about(case.partner_id, order.member_id, order.id, f"{case.id}:{case.status}",
                  "case_updated", product=item.snapshot.get("product_name", ""),
                  case_status=case.status)  # fmt: skip


def _order_and_item(session: Session, delivery: Delivery) -> tuple[Order, OrderItem]:
    return session.get_one(Order, delivery.order_id), session.get_one(OrderItem, delivery.item_id)


def _about(
    partner_id: str, member_id: str, order_id: str, subject: str, kind: str, **values: Any
) -> Draft:
    return Draft(kind, subject, member_id, partner_id, order_id, values)


def _expiring(session: Session, now: datetime) -> list[Draft]:
    return [
        _about(
            held.partner_id,
            held.member_id,
            held.order_id,
            held.id,
            "entitlement_expiring",
            product=held.snapshot.get("product_name", ""),
            days=math.ceil((held.valid_until - now) / timedelta(days=1)),
        )  # fmt: skip
        for held in session.scalars(
            select(Entitlement).where(
                Entitlement.status == "active",
                Entitlement.valid_until > now,
                Entitlement.valid_until <= now + EXPIRING_WITHIN,
                ~select(Notification.id)
                .where(
                    Notification.kind == "entitlement_expiring",
                    Notification.subject_id == Entitlement.id,
                )
                .exists(),
            )
        )
        if held.valid_until is not None  # (the query's bounds say so; the type does not)
    ]


def _add(session: Session, draft: Draft) -> int:
    """Insert the notification unless this (kind, subject) was told already."""
    partner = session.get_one(Partner, draft.partner_id)
    member = session.get_one(Member, draft.member_id)
    language = member.language or DEFAULT_LANGUAGE
    values = {
        "mall": (partner.branding or {}).get("display_name") or partner.name,
        "points_unit": partner.points_unit_name,
        "points": 0,
        "days": 0,
        **draft.values,
    }
    body = render(partner, draft.kind, language, values)
    stmt = (
        dialect_insert(session, Notification)
        .values(
            id=new_id(Notification.id_prefix),
            partner_id=draft.partner_id,
            member_id=draft.member_id,
            kind=draft.kind,
            subject_id=draft.subject_id,
            order_id=draft.order_id,
            channel=partner.notification_channel,
            language=language,
            body=body,
            status="queued",
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=["kind", "subject_id"])
        .returning(Notification.id)
    )
    return 1 if session.execute(stmt).first() is not None else 0


def render(partner: Partner, kind: str, language: str, values: dict[str, Any]) -> str:
    own = (partner.notification_templates or {}).get(kind, {})
    source = own.get(language) or TEMPLATES[kind].get(language) or TEMPLATES[kind][DEFAULT_LANGUAGE]
    return _ENV.from_string(source).render(**values).strip()


# --- sending ---------------------------------------------------------------------------------


def send_queued(
    session: Session, provider: Provider, vault: Vault, now: datetime, limit: int = 500
) -> int:
    """Send (or skip) the queued notifications, oldest first; returns how many were sent."""
    sent = 0
    for note in session.scalars(
        select(Notification)
        .where(Notification.status == "queued")
        .order_by(Notification.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ):
        sent += _send(session, provider, vault, note, now)
    return sent


def _send(
    session: Session, provider: Provider, vault: Vault, note: Notification, now: datetime
) -> int:
    member = session.get_one(Member, note.member_id)
    reason = None
    if not member.notifications or note.channel == "off":
        reason = "opted_out"
    elif _told_within_hour(session, member.id, now) >= PER_HOUR:
        reason = "rate_limited"
    elif (note.channel == "sms" and member.phone_blob is None) or (
        note.channel == "email" and member.email_blob is None
    ):
        reason = "no_address"
    if reason is not None:
        note.status, note.skip_reason = "skipped", reason
        return 0
    note.attempts += 1
    if note.channel == "webhook":
        record_event(session, f"notification.{note.kind}", _event_data(member, note),
                     partner_id=note.partner_id, order_id=note.order_id)  # fmt: skip
    elif note.channel == "email":
        subject = SUBJECTS[note.kind].get(note.language) or SUBJECTS[note.kind][DEFAULT_LANGUAGE]
        queue_mail(session, vault, member_email(vault, member) or "", subject, note.body)
    else:
        try:
            provider.send(note.id, member_phone(vault, member) or "", note.body)
        except SendFailed:
            if note.attempts >= MAX_ATTEMPTS:
                note.status = "failed"
            return 0
    note.status, note.sent_at = "sent", now
    return 1


def _told_within_hour(session: Session, member_id: str, now: datetime) -> int:
    return int(
        session.scalar(
            select(func.count()).where(
                Notification.member_id == member_id,
                Notification.status == "sent",
                Notification.sent_at > now - timedelta(hours=1),
            )
        )
        or 0
    )


def _event_data(member: Member, note: Notification) -> dict[str, Any]:
    return {
        "notification_id": note.id,
        "member": member.external_id,
        "kind": note.kind,
        "language": note.language,
        "text": note.body,
        "order_id": note.order_id,
        "subject_id": note.subject_id,
    }


def member_notifications(session: Session, member: Member, limit: int = 20) -> list[Notification]:
    return list(
        session.scalars(
            select(Notification)
            .where(
                Notification.partner_id == member.partner_id, Notification.member_id == member.id
            )
            .order_by(Notification.id.desc())
            .limit(limit)
        )
    )

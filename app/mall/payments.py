"""Points + cash in the mall: the cash part is paid on the partner's own payment page.

The mall records what the member chose (a `MallPayment`), sends the browser to the partner's
payment URL with a signed request (app/core/signing.py: `payment_id`, `member`, `amount` in
minor units, `currency`, `description`, `return_url`, `timestamp`), and waits for the browser
to come back to `return_url` with the partner's signed result (`payment_id`, `status` paid or
cancelled, `payment_ref`, `amount`, `timestamp`). Only then is the order placed — through the
same checkout as the API, paying the points and the cash the partner collected. A paid
payment whose order cannot be placed (sold out meanwhile, the price changed) becomes
`refund_due` and the partner hears of it (`payment.refund_requested`) to give the cash back.
A result may be returned any number of times: the first places the order, the others find it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.audit import Actor, record_audit
from app.core.errors import DomainError, NotFound
from app.core.signing import signed, verify
from app.core.vault import Vault
from app.mall.models import MallPayment
from app.members.models import Member
from app.partners.models import Partner
from app.webhooks.outbox import record_event

PAY_WITHIN = timedelta(minutes=15)
RESULT_TTL_SECONDS = 600  # a signed result older than this is refused (a replayed link)


class PaymentPageMissing(DomainError):
    code = "payment_page_missing"


class PaymentRefused(DomainError):
    code = "payment_refused"


def _context(partner: Partner) -> str:
    return f"payment-page:{partner.id}"


def configure(
    session: Session, actor: Actor, partner: Partner, vault: Vault, url: str, secret: str
) -> None:
    sealed = vault.seal(secret, _context(partner))
    partner.mall_payment_url = url
    partner.mall_payment_key_id, partner.mall_payment_blob = sealed.key_id, sealed.blob
    record_audit(
        session, actor, "partner.payment_page_configured", "partner", partner.id,
        partner_id=partner.id, after={"mall_payment_url": url},
    )  # fmt: skip


def _secret(partner: Partner, vault: Vault) -> str:
    if not partner.mall_payment_url or partner.mall_payment_blob is None:
        raise PaymentPageMissing("This mall takes no cash payments: redeem it in the app.")
    return vault.open(
        partner.mall_payment_key_id or "", partner.mall_payment_blob, _context(partner)
    )


def start(
    session: Session,
    vault: Vault,
    partner: Partner,
    member: Member,
    choice: dict[str, Any],
    return_url: str,
    now: datetime,
) -> str:
    """Record the member's choice (listing_id, quantity, recharge_account, points, cash_minor,
    currency, checkout_key, description) and give the partner's payment URL to send it to. The
    same checkout key (a double tap) gives the same payment."""
    secret = _secret(partner, vault)
    payment = session.scalars(
        select(MallPayment).where(
            MallPayment.partner_id == partner.id,
            MallPayment.checkout_key == choice["checkout_key"],
        )
    ).first()
    if payment is None:
        payment = MallPayment(
            partner_id=partner.id,
            member_id=member.id,
            listing_id=choice["listing_id"],
            quantity=choice["quantity"],
            recharge_account=choice["recharge_account"],
            points=choice["points"],
            cash_minor=choice["cash_minor"],
            currency=choice["currency"],
            checkout_key=choice["checkout_key"],
            expires_at=now + PAY_WITHIN,
        )
        session.add(payment)
        session.flush()
    request = signed(
        {
            "payment_id": payment.id,
            "member": member.external_id,
            "amount": payment.cash_minor,
            "currency": payment.currency,
            "description": choice["description"],
            "return_url": return_url,
            "timestamp": int(time.time()),
        },
        secret,
    )
    separator = "&" if "?" in (partner.mall_payment_url or "") else "?"
    return f"{partner.mall_payment_url}{separator}{urlencode(request)}"


PlaceOrder = Callable[[MallPayment], str]  # places the payment's order; returns its id


def complete(
    session: Session,
    vault: Vault,
    partner: Partner,
    member: Member,
    result: dict[str, str],
    place: PlaceOrder,
    now: datetime,
) -> MallPayment:
    """The partner's signed result, brought back by the member's browser: place the order once
    (`place` raises a DomainError when it cannot be placed), or record the cancellation."""
    if not verify(result, _secret(partner, vault)):
        raise PaymentRefused("This payment result is not signed by the partner.")
    if time.time() - int(result.get("timestamp") or 0) > RESULT_TTL_SECONDS:
        raise PaymentRefused("This payment result has expired.")
    payment = session.scalars(
        select(MallPayment)
        .where(
            MallPayment.id == result.get("payment_id"),
            MallPayment.partner_id == partner.id,
            MallPayment.member_id == member.id,
        )
        .with_for_update()
    ).first()
    if payment is None:
        raise NotFound("Payment not found.")
    if payment.status != "pending":
        return payment  # a second return: what the first decided
    if result.get("status") != "paid":
        payment.status = "cancelled"
        return payment
    if str(result.get("amount")) != str(payment.cash_minor):
        raise PaymentRefused("The partner confirmed another amount than the order's.")
    payment.payment_ref = str(result.get("payment_ref") or "")[:64]
    savepoint = session.begin_nested()
    try:
        order_id = place(payment)
    except DomainError as refused:
        savepoint.rollback()
        payment.status, payment.failure = "refund_due", refused.detail[:300]
        record_event(
            session,
            "payment.refund_requested",
            {
                "payment_id": payment.id,
                "payment_ref": payment.payment_ref,
                "member": member.external_id,
                "amount": {"amount": payment.cash_minor, "currency": payment.currency},
                "reason": payment.failure,
            },
            partner_id=partner.id,
        )
        return payment
    savepoint.commit()
    payment.status, payment.order_id = "ordered", order_id
    return payment


def get_payment(session: Session, partner_id: str, member_id: str, payment_id: str) -> MallPayment:
    payment = session.scalars(
        select(MallPayment).where(
            MallPayment.id == payment_id,
            MallPayment.partner_id == partner_id,
            MallPayment.member_id == member_id,
        )
    ).first()
    if payment is None:
        raise NotFound("Payment not found.")
    return payment

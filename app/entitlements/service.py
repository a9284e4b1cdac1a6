"""Entitlements: issued for every delivered unit, read, revealed (the only path from the vault
to a person) and expired."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from blinker import Namespace
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.audit import SYSTEM, Actor, record_audit
from app.core.errors import Conflict
from app.core.pagination import Page, paginate
from app.core.tenancy import get_owned, scoped
from app.core.vault import Vault
from app.entitlements.models import Entitlement
from app.members.models import Member
from app.supply.imports import reveal_code
from app.supply.models import Code, Product
from app.webhooks.outbox import record_event


class NothingToReveal(Conflict):
    code = "nothing_to_reveal"


# An entitlement was issued (sender: the Entitlement; keyword arguments: session, product), in
# the issuing transaction: for packages that act on what was delivered (the sandbox).
issued = Namespace().signal("entitlement-issued")


def validity_end(
    now: datetime, validity_days: int | None, code_expires_at: datetime | None = None
) -> datetime | None:
    """An entitlement lasts its product's validity and never past its code's own expiry (a
    code that dies first would leave the member holding nothing); None: it never ends."""
    ends = [
        end
        for end in (now + timedelta(days=validity_days) if validity_days else None, code_expires_at)
        if end is not None
    ]
    return min(ends) if ends else None


def issue(
    session: Session,
    member: Member,
    order_id: str,
    delivery_id: str,
    product: Product,
    now: datetime,
    *,
    provenance: dict[str, Any],
    code: Code | None = None,
    bundle: str | None = None,
    recharge_account: str | None = None,
    supplier_order_no: str | None = None,
) -> Entitlement:
    """The member's entitlement to one delivered unit of `product` (a bundle's component: its
    own validity, not the bundle's), whatever delivered it: a card key or claim link (`code`),
    or a direct recharge (its receipt). One snapshot shape and one `entitlement.created`
    payload for every path."""
    entitlement = Entitlement(
        partner_id=member.partner_id,
        member_id=member.id,
        order_id=order_id,
        delivery_id=delivery_id,
        product_id=product.id,
        code_id=code.id if code else None,
        masked_code=code.masked if code else None,
        status="active",
        valid_from=now,
        valid_until=validity_end(now, product.validity_days, code.expires_at if code else None),
        snapshot={
            "product_name": product.name,
            "brand": product.brand,
            "fulfillment_type": product.fulfillment_type,
            "face_value": {"amount": product.face_value_minor, "currency": product.currency},
            "bundle": bundle,
            "recharge_account": recharge_account,
            "supplier_order_no": supplier_order_no,
        },
        provenance=provenance,
    )
    session.add(entitlement)
    record_event(
        session,
        "entitlement.created",
        {"entitlement_id": entitlement.id, "order_id": order_id, "member": member.external_id},
        member.partner_id,
        order_id=order_id,
    )
    if issued.receivers:
        issued.send(entitlement, session=session, product=product)
    return entitlement


def revoke(
    session: Session, actor: Actor, entitlement: Entitlement, member: Member, reason: str
) -> bool:
    """The member no longer holds it (its code does not work, it was reissued): no reveal any
    more, an audit row and an `entitlement.revoked` event. False when it was not active."""
    if entitlement.status != "active":
        return False
    entitlement.status = "revoked"
    record_audit(
        session,
        actor,
        "entitlement.revoked",
        "entitlement",
        entitlement.id,
        partner_id=entitlement.partner_id,
        before={"status": "active"},
        after={"status": "revoked", "reason": reason},
    )
    record_event(
        session,
        "entitlement.revoked",
        {
            "entitlement_id": entitlement.id,
            "order_id": entitlement.order_id,
            "member": member.external_id,
            "reason": reason,
        },
        entitlement.partner_id,
        order_id=entitlement.order_id,
    )
    return True


def expire_entitlements(session: Session, now: datetime) -> int:
    """Mark every active entitlement past its `valid_until` expired, each with an audit row and
    an `entitlement.expired` event. Idempotent (an expired one is no longer active); rows
    another run holds are skipped, not waited for. Returns how many expired."""
    due = session.scalars(
        select(Entitlement)
        .where(Entitlement.status == "active", Entitlement.valid_until <= now)
        .order_by(Entitlement.id)
        .with_for_update(skip_locked=True)
    ).all()
    for entitlement in due:
        entitlement.status = "expired"
        record_audit(
            session,
            SYSTEM,
            "entitlement.expired",
            "entitlement",
            entitlement.id,
            partner_id=entitlement.partner_id,
            before={"status": "active"},
            after={"status": "expired"},
        )
        record_event(
            session,
            "entitlement.expired",
            {
                "entitlement_id": entitlement.id,
                "order_id": entitlement.order_id,
                "valid_until": entitlement.valid_until.isoformat()
                if entitlement.valid_until
                else None,
            },
            entitlement.partner_id,
            order_id=entitlement.order_id,
        )
    return len(due)


def list_entitlements(
    session: Session, partner_id: str, member: Member, limit: int, cursor: str | None
) -> Page[Entitlement]:
    stmt = scoped(Entitlement, partner_id).where(Entitlement.member_id == member.id)
    return paginate(session, stmt, Entitlement.id, limit, cursor)


def reveal(
    session: Session, actor: Actor, vault: Vault, partner_id: str, entitlement_id: str
) -> tuple[Entitlement, str, str | None]:
    """Open the entitlement's code for its owner's partner; every reveal leaves an audit row
    (client, time, IP) — without the code."""
    entitlement = get_owned(
        session, Entitlement, partner_id, Entitlement.id == entitlement_id, label="Entitlement"
    )
    if entitlement.code_id is None:
        raise NothingToReveal("This entitlement has no code or link (a direct recharge).")
    if entitlement.status != "active":
        raise NothingToReveal(f"This entitlement is {entitlement.status}.")
    code, password = reveal_code(vault, session.get_one(Code, entitlement.code_id))
    # counted in the database (concurrent reveals each get their own number), then read back
    entitlement.revealed_count = Entitlement.revealed_count + 1
    session.flush()
    reveal_number = entitlement.revealed_count
    record_audit(
        session,
        actor,
        "entitlement.revealed",
        "entitlement",
        entitlement.id,
        partner_id=partner_id,
        after={
            "client_id": actor.id,
            "ip": actor.ip,
            "masked_code": entitlement.masked_code,
            "reveal_number": reveal_number,
        },
    )
    return entitlement, code, password

"""After-sales (售后): a member or staff reports a problem with a delivered unit ("the code does
not work", "the recharge never arrived"); support looks at the evidence and resolves the case
by reissuing the unit (a new code, the old one revoked, the supplier claim recorded for
settlement), refunding it (points back to the member's lots, wholesale credited to the
partner), or rejecting it — each step audited and announced (`case.opened`, `case.resolved`).

A unit is remedied at most once: resolving locks the case, then its delivery, and refuses a
remedy when another case of the same unit was reissued or refunded (two supporters clicking
at once are serialized by the delivery's row lock). Locks: case → delivery → codes → member →
lots → quota counters → partner account, the checkout's order after the first two.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.audit import Actor, AuditLog, record_audit
from app.core.errors import Conflict, NotFound
from app.core.pagination import Page, paginate
from app.core.tenancy import get_owned, scoped
from app.entitlements import service as entitlements
from app.entitlements.models import Entitlement
from app.fulfillment.models import Delivery
from app.fulfillment.service import create_deliveries, hand_over_code
from app.orders.models import Case, Order
from app.orders.service import close_if_nothing_kept, get_order, refund_units
from app.partners.models import Partner
from app.supply.models import Product
from app.supply.stock import allocate_codes, reserve_capacity
from app.supply.suppliers import code_provenance
from app.webhooks.outbox import record_event

REMEDIES = ("reissued", "refunded")


class UnitNotDelivered(Conflict):
    code = "unit_not_delivered"


class CaseAlreadyOpen(Conflict):
    code = "case_already_open"


class CaseClosed(Conflict):
    code = "case_closed"


class UnitAlreadyRemedied(Conflict):
    code = "unit_already_remedied"


@dataclass(frozen=True)
class Evidence:
    delivery: Delivery
    entitlement: Entitlement | None
    reveals: list[AuditLog]  # every reveal of the code: who, when, from where
    remedied_by: Case | None  # another case that already reissued or refunded the unit


def open_case(
    session: Session,
    actor: Actor,
    partner_id: str,
    order_id: str,
    delivery_id: str,
    kind: str,
    description: str,
    now: datetime,
) -> Case:
    order = get_order(session, partner_id, order_id)
    delivery = _delivery_of(order, delivery_id)
    if delivery.status != "delivered":
        raise UnitNotDelivered(f"This unit is {delivery.status}: only a delivered unit has a case.")
    existing = session.scalars(
        scoped(Case, partner_id).where(Case.delivery_id == delivery.id, Case.status == "open")
    ).first()
    if existing is not None:
        raise CaseAlreadyOpen("This unit has an open case already.", case_id=existing.id)
    entitlement = next((e for e in order.entitlements if e.delivery_id == delivery.id), None)
    sla = session.get_one(Partner, partner_id)  # the partner's own service levels
    case = Case(
        partner_id=partner_id,
        order_id=order.id,
        delivery_id=delivery.id,
        entitlement_id=entitlement.id if entitlement else None,
        kind=kind,
        description=description,
        status="open",
        opened_by=f"{actor.kind}:{actor.id}",
        opened_at=now,
        first_response_due_at=now + timedelta(hours=sla.case_first_response_hours),
        resolution_due_at=now + timedelta(hours=sla.case_resolution_hours),
    )
    session.add(case)
    _announce(session, actor, case, "case.opened")
    return case


def _delivery_of(order: Order, delivery_id: str) -> Delivery:
    delivery = next((d for d in order.deliveries if d.id == delivery_id), None)
    if delivery is None:
        raise NotFound("No such unit in this order.")
    return delivery


def get_case(session: Session, partner_id: str, case_id: str, for_update: bool = False) -> Case:
    return get_owned(
        session, Case, partner_id, Case.id == case_id, for_update=for_update, label="Case"
    )


def list_cases(
    session: Session, partner_id: str, status: str | None, limit: int, cursor: str | None
) -> Page[Case]:
    stmt = scoped(Case, partner_id)
    if status:
        stmt = stmt.where(Case.status == status)
    return paginate(session, stmt, Case.id, limit, cursor)


def open_case_units(session: Session, partner_id: str, order_id: str) -> set[str]:
    """The deliveries of an order that have an open case (a member sees "reported")."""
    return set(
        session.scalars(
            select(Case.delivery_id).where(
                Case.partner_id == partner_id, Case.order_id == order_id, Case.status == "open"
            )
        )
    )


def evidence(session: Session, case: Case) -> Evidence:
    delivery = session.get_one(Delivery, case.delivery_id)
    entitlement = session.get(Entitlement, case.entitlement_id) if case.entitlement_id else None
    reveals = (
        list(
            session.scalars(
                select(AuditLog)
                .where(
                    AuditLog.target_id == case.entitlement_id,
                    AuditLog.action == "entitlement.revealed",
                )
                .order_by(AuditLog.occurred_at)
            )
        )
        if case.entitlement_id
        else []
    )
    return Evidence(delivery, entitlement, reveals, _remedy_of(session, case))


def respond(session: Session, actor: Actor, case: Case, now: datetime) -> None:
    """Support has looked at it (the first-response clock stops)."""
    if case.first_responded_at is None:
        case.first_responded_at = now


def resolve(
    session: Session,
    actor: Actor,
    partner_id: str,
    case_id: str,
    resolution: str,
    note: str,
    now: datetime,
) -> Case:
    case = get_case(session, partner_id, case_id, for_update=True)
    if case.status != "open":
        raise CaseClosed(f"This case is {case.status} already.")
    delivery = session.scalars(
        select(Delivery).where(Delivery.id == case.delivery_id).with_for_update()
    ).one()
    if resolution in REMEDIES:
        done = _remedy_of(session, case)
        if done is not None:
            raise UnitAlreadyRemedied(
                f"This unit was {done.resolution} already (case {done.id}).", case_id=done.id
            )
    order = get_order(session, partner_id, case.order_id)
    old = session.get(Entitlement, case.entitlement_id) if case.entitlement_id else None
    if resolution == "reissued":
        replacement, issued = _reissue(session, actor, order, delivery, old, now)
        case.replacement_delivery_id, case.replacement_entitlement_id = replacement, issued
    elif resolution == "refunded":
        points, wholesale = refund_units(
            session, order, [(delivery.item_id, delivery.unit)], f"after-sales case {case.id}"
        )
        case.refunded_points, case.refunded_wholesale_minor = points, wholesale
        if old is not None:
            entitlements.revoke(session, actor, old, order.member, "refunded")
    case.status, case.resolution, case.resolution_note = "resolved", resolution, note
    case.resolved_at, case.resolved_by = now, f"{actor.kind}:{actor.id}"
    case.first_responded_at = case.first_responded_at or now
    if resolution == "refunded":
        session.flush()
        close_if_nothing_kept(session, actor, order)
    _announce(session, actor, case, "case.resolved")
    return case


def _remedy_of(session: Session, case: Case) -> Case | None:
    return session.scalars(
        select(Case).where(
            Case.delivery_id == case.delivery_id,
            Case.id != case.id,
            Case.resolution.in_(REMEDIES),
        )
    ).first()


def _reissue(
    session: Session,
    actor: Actor,
    order: Order,
    delivery: Delivery,
    old: Entitlement | None,
    now: datetime,
) -> tuple[str, str | None]:
    """A new delivery of the same product for the unit, which it replaces; the old entitlement
    revoked. A card key is handed over at once (a new code and entitlement); a direct recharge
    or link goes to the supplier again (its capacity taken), its entitlement issued once it is
    delivered — and if it fails, the unit is refunded as any failed unit is. The supplier claim
    for the first delivery is in the audit row (settlement counts both; reconciliation disputes
    the first). Returns the new delivery's id and, for a card key, its entitlement's."""
    product = session.get_one(Product, delivery.product_id)
    issued_id = None
    if delivery.fulfillment_type == "card_key":
        (code,) = allocate_codes(session, product, order.partner_id, 1, status="sold")
    else:
        reserve_capacity(session, product, 1)
    (replacement,) = create_deliveries(
        session, order.partner_id, order.id, delivery.item_id, product, 1, 1,
        delivery.recharge_account,
    )  # fmt: skip
    replacement.unit = delivery.unit
    if delivery.fulfillment_type == "card_key":
        hand_over_code(replacement, code, now)
    session.flush()
    delivery.replaced_by_id = replacement.id
    if delivery.fulfillment_type == "card_key":
        provenance = code_provenance(session, [code.id]).get(code.id, {})
        issued_id = entitlements.issue(
            session,
            order.member,
            order.id,
            replacement.id,
            product,
            now,
            provenance={**provenance, "supplier_order_no": None, "replaces": delivery.id},
            code=code,
        ).id
    if old is not None:
        entitlements.revoke(session, actor, old, order.member, "reissued")
    record_audit(
        session,
        actor,
        "delivery.reissued",
        "delivery",
        delivery.id,
        partner_id=order.partner_id,
        after={
            "replacement_delivery_id": replacement.id,
            "supplier_claim": {
                "code_id": delivery.code_id,
                "offer_id": delivery.offer_id,
                "supplier_order_no": delivery.supplier_order_no,
            },
        },
    )
    return replacement.id, issued_id


def case_event(case: Case) -> dict[str, Any]:
    return {
        "case_id": case.id,
        "order_id": case.order_id,
        "delivery_id": case.delivery_id,
        "kind": case.kind,
        "status": case.status,
        "resolution": case.resolution,
    }


def _announce(session: Session, actor: Actor, case: Case, action: str) -> None:
    record_audit(
        session,
        actor,
        action,
        "case",
        case.id,
        partner_id=case.partner_id,
        after={**case_event(case), "note": case.resolution_note},
    )
    record_event(session, action, case_event(case), case.partner_id, order_id=case.order_id)

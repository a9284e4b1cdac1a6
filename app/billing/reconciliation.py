"""A supplier's statement compared with our deliveries, line by line: what matches, what is
missing on either side, what differs in amount or status."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.billing.models import Reconciliation, ReconciliationItem
from app.billing.settlement import REFUNDED, OfferCosts, costed_deliveries, day_bounds
from app.billing.statements import SUCCESS, StatementRow, parse_statement, statement_period
from app.core.audit import Actor, record_audit
from app.core.db import get_or_404
from app.core.pagination import Page, paginate
from app.fulfillment.models import Delivery
from app.supply.models import Offer, Supplier

DISCREPANCIES = (
    "missing_on_their_side",
    "missing_on_our_side",
    "amount_mismatch",
    "late_success_after_refund",
    "double_delivery",
    "status_mismatch",
    "duplicate_row",
)


def reconcile_statement(
    session: Session,
    actor: Actor,
    supplier: Supplier,
    raw: bytes,
    first: date | None = None,
    last: date | None = None,
    source_name: str | None = None,
) -> Reconciliation:
    """Parse a statement and reconcile it over [first, last) — by default the days its rows
    were completed on."""
    rows = parse_statement(raw)
    if first is None or last is None:
        first, last = statement_period(rows)
    start, end = day_bounds(first, last)
    return reconcile(session, actor, supplier, rows, start, end, source_name)


@dataclass
class _Report:
    items: list[ReconciliationItem] = field(default_factory=list)

    def add(self, kind: str, **values: Any) -> None:
        self.items.append(ReconciliationItem(kind=kind, position=len(self.items), **values))


def reconcile(
    session: Session,
    actor: Actor,
    supplier: Supplier,
    rows: list[StatementRow],
    start: datetime,
    end: datetime,
    source_name: str | None = None,
) -> Reconciliation:
    """Match the supplier's statement with our deliveries: each row is matched or a
    discrepancy, and each of our deliveries by this supplier in [start, end) that the
    statement lacks is `missing_on_their_side`. The report is saved (and audited)."""
    offer_ids = set(session.scalars(select(Offer.id).where(Offer.supplier_id == supplier.id)))
    references = {r.reference for r in rows if r.reference}
    order_nos = {r.supplier_order_no for r in rows if r.supplier_order_no}
    known = costed_deliveries(
        session,
        or_(Delivery.id.in_(references), Delivery.supplier_order_no.in_(order_nos)),
    )
    by_id = {c.delivery.id: c for c in known}
    by_order_no = {c.delivery.supplier_order_no: c for c in known if c.delivery.supplier_order_no}
    ours_in_period = [
        c
        for c in costed_deliveries(
            session,
            Delivery.status == "delivered",
            Delivery.fulfillment_type != "card_key",
            Delivery.delivered_at >= start,
            Delivery.delivered_at < end,
        )
        if c.supplier_id == supplier.id
    ]
    offers = OfferCosts(session, {c.delivery.product_id for c in known})
    report, seen = _Report(), set()
    for row in rows:
        costed = by_id.get(row.reference or "") or by_order_no.get(row.supplier_order_no or "")
        values: dict[str, Any] = {
            "line": row.line,
            "reference": row.reference,
            "supplier_order_no": row.supplier_order_no,
            "their_status": row.status,
            "their_amount_minor": row.amount_minor,
        }
        related = costed is not None and (
            costed.late_supplier_id == supplier.id
            or offer_ids & {costed.delivery.offer_id, *(costed.delivery.tried_offer_ids or [])}
        )
        if costed is None or not related:
            report.add("missing_on_our_side", **values, note="no delivery of ours went to them")
            continue
        delivery = costed.delivery
        offer = offers.of_supplier(delivery, supplier.id)
        values |= {
            "delivery_id": delivery.id,
            "partner_id": delivery.partner_id,
            "our_status": delivery.status,
            "our_amount_minor": offer.cost_minor if offer else None,
        }
        if delivery.id in seen:
            report.add("duplicate_row", **values, note="the statement lists this order again")
            continue
        seen.add(delivery.id)
        via_them = delivery.status == "delivered" and costed.supplier_id == supplier.id
        if row.status == SUCCESS and via_them:
            kind = "matched" if row.amount_minor == costed.cost_minor else "amount_mismatch"
        elif row.status == SUCCESS and delivery.status in REFUNDED:
            kind = "late_success_after_refund"
        elif row.status == SUCCESS and delivery.status == "delivered":
            kind = "double_delivery"  # another supplier delivered it too
        elif row.status == SUCCESS or via_them:
            kind = "status_mismatch"
        else:
            kind = "matched"  # failed on both sides: nothing owed
        report.add(kind, **values)
    for c in ours_in_period:
        if c.delivery.id not in seen:
            report.add(
                "missing_on_their_side",
                reference=c.delivery.id,
                supplier_order_no=c.delivery.supplier_order_no,
                delivery_id=c.delivery.id,
                partner_id=c.delivery.partner_id,
                our_status=c.delivery.status,
                our_amount_minor=c.cost_minor,
            )
    counts = {kind: 0 for kind in ("matched", *DISCREPANCIES)}
    for item in report.items:
        counts[item.kind] += 1
    run = Reconciliation(
        supplier_id=supplier.id,
        period_start=start,
        period_end=end,
        source_name=(source_name or "")[:255] or None,
        row_count=len(rows),
        counts=counts,
        their_total_minor=sum(r.amount_minor for r in rows if r.status == SUCCESS),
        our_total_minor=sum(c.cost_minor or 0 for c in ours_in_period),
        created_by=f"{actor.kind}:{actor.id}",
        items=report.items,
    )
    session.add(run)
    record_audit(
        session,
        actor,
        "supplier.reconciled",
        "reconciliation",
        run.id,
        after={"supplier_id": supplier.id, "rows": len(rows), "counts": counts},
    )
    return run


def items_for_delivery(session: Session, delivery_id: str) -> list[ReconciliationItem]:
    """What supplier statements said of one delivery (after-sales evidence), oldest first."""
    return list(
        session.scalars(
            select(ReconciliationItem)
            .where(ReconciliationItem.delivery_id == delivery_id)
            .order_by(ReconciliationItem.id)
        )
    )


def get_reconciliation(session: Session, reconciliation_id: str) -> Reconciliation:
    return get_or_404(session, Reconciliation, reconciliation_id, "Reconciliation")


def list_reconciliations(
    session: Session, supplier_id: str | None, limit: int, cursor: str | None
) -> Page[Reconciliation]:
    """One supplier's reconciliations (None: every supplier's), newest first."""
    stmt = select(Reconciliation)
    if supplier_id is not None:
        stmt = stmt.where(Reconciliation.supplier_id == supplier_id)
    return paginate(session, stmt, Reconciliation.id, limit, cursor)

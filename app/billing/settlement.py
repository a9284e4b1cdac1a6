"""What we owe suppliers, how a supplier's statement compares with our deliveries, and what the
platform earns. Costs come from offers: a direct recharge from the offer it was delivered by, a
card key from its batch's offer (or, for a batch imported without one, the product's first
offer). A success the supplier reported after we had refunded the member still costs us."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.billing.invoices import fees_of
from app.billing.models import Invoice, Reconciliation, ReconciliationItem
from app.core.audit import Actor, record_audit
from app.core.errors import NUL, NUL_MESSAGE, NotFound, ValidationFailed
from app.core.pagination import Page, paginate
from app.fulfillment.models import Delivery
from app.orders.models import Order, OrderItem
from app.partners.models import Partner
from app.supply.models import Code, CodeBatch, Offer, Product, Supplier
from app.supply.suppliers import PLATFORM_TZ

SUCCESS, FAILED = "success", "failed"
STATUS_WORDS = {
    "success": SUCCESS, "succeeded": SUCCESS, "ok": SUCCESS, "成功": SUCCESS,
    "failed": FAILED, "fail": FAILED, "failure": FAILED, "失败": FAILED,
}  # fmt: skip
DISCREPANCIES = (
    "missing_on_their_side",
    "missing_on_our_side",
    "amount_mismatch",
    "late_success_after_refund",
    "double_delivery",
    "status_mismatch",
    "duplicate_row",
)
REFUNDED = ("failed", "cancelled")
MAX_STATEMENT_BYTES = 20 * 1024 * 1024
GROUPS = ("partner", "product", "supplier")


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start, end) calendar days in the platform's timezone, as instants."""
    if end <= start:
        raise ValidationFailed({"to": ["Must be after 'from'."]})
    return (
        datetime.combine(start, time(), PLATFORM_TZ),
        datetime.combine(end, time(), PLATFORM_TZ),
    )


@dataclass
class Costed:
    """A delivery with who supplied it and at what cost (None: nothing owed)."""

    delivery: Delivery
    unit_wholesale_minor: int
    supplier_id: str | None = None
    offer_id: str | None = None
    cost_minor: int | None = None
    late_supplier_id: str | None = None
    late_cost_minor: int | None = None


class _Offers:
    """Offers by id and by product, loaded once per report."""

    def __init__(self, session: Session, product_ids: set[str]) -> None:
        offers = session.scalars(select(Offer).where(Offer.product_id.in_(product_ids))).all()
        self.by_id = {o.id: o for o in offers}
        self.first: dict[str, Offer] = {}
        for offer in sorted(offers, key=lambda o: (o.status != "active", o.priority, o.id)):
            self.first.setdefault(offer.product_id, offer)

    def of_supplier(self, delivery: Delivery, supplier_id: str) -> Offer | None:
        """The offer of `supplier_id` this delivery went through (current or tried)."""
        for offer_id in [delivery.offer_id, *(delivery.tried_offer_ids or [])]:
            offer = self.by_id.get(offer_id or "")
            if offer is not None and offer.supplier_id == supplier_id:
                return offer
        return next(
            (
                o
                for o in self.by_id.values()
                if o.product_id == delivery.product_id and o.supplier_id == supplier_id
            ),
            None,
        )


def costed_deliveries(session: Session, *where: Any) -> list[Costed]:
    rows = session.execute(
        select(Delivery, CodeBatch.offer_id, OrderItem.unit_wholesale_minor)
        .join(Order, Order.id == Delivery.order_id)
        .join(OrderItem, OrderItem.id == Delivery.item_id)
        .outerjoin(Code, Code.id == Delivery.code_id)
        .outerjoin(CodeBatch, CodeBatch.id == Code.batch_id)
        .where(*where)
        .order_by(Delivery.id)
    ).all()
    offers = _Offers(session, {row[0].product_id for row in rows})
    out = []
    for delivery, batch_offer_id, unit_wholesale in rows:
        costed = Costed(delivery, unit_wholesale)
        if delivery.status == "delivered":
            offer = offers.by_id.get(delivery.offer_id or batch_offer_id or "") or (
                offers.first.get(delivery.product_id)
            )
            if offer is not None:
                costed.supplier_id, costed.offer_id = offer.supplier_id, offer.id
                costed.cost_minor = offer.cost_minor
        late = delivery.late_result or {}
        if late.get("supplier_id"):
            late_offer = offers.of_supplier(delivery, late["supplier_id"])
            costed.late_supplier_id = late["supplier_id"]
            costed.late_cost_minor = late_offer.cost_minor if late_offer else None
        out.append(costed)
    return out


def _late_at(delivery: Delivery) -> datetime | None:
    at = (delivery.late_result or {}).get("at")
    return datetime.fromisoformat(at) if at else None


# --- supplier settlement -----------------------------------------------------------------


def supplier_settlement(
    session: Session, supplier: Supplier, start: datetime, end: datetime
) -> dict[str, Any]:
    """What we owe `supplier` for [start, end): deliveries it made (by delivery time), at the
    offer's cost, one line per offer; plus successes it reported after we refunded."""
    delivered = costed_deliveries(
        session,
        Delivery.status == "delivered",
        Delivery.delivered_at >= start,
        Delivery.delivered_at < end,
    )
    lines: dict[str, dict[str, Any]] = {}
    for c in delivered:
        if c.supplier_id != supplier.id or c.cost_minor is None:
            continue
        line = lines.setdefault(
            c.offer_id or "",
            {
                "offer_id": c.offer_id,
                "product_id": c.delivery.product_id,
                "fulfillment_type": c.delivery.fulfillment_type,
                "unit_cost_minor": c.cost_minor,
                "units": 0,
                "amount_minor": 0,
            },
        )
        line["units"] += 1
        line["amount_minor"] += c.cost_minor
    names = _labels(session, "product", {line["product_id"] for line in lines.values()})
    for line in lines.values():
        line["product_name"] = names.get(line["product_id"])
    # successes reported after we refunded, and recharges a unit got twice (we had failed
    # over to another supplier that delivered it too): owed all the same
    late = [
        c
        for c in costed_deliveries(
            session, Delivery.status.in_((*REFUNDED, "delivered")), Delivery.updated_at >= start
        )
        if c.late_supplier_id == supplier.id and start <= (_late_at(c.delivery) or end) < end
    ]
    late_minor = sum(c.late_cost_minor or 0 for c in late)
    owed = sum(line["amount_minor"] for line in lines.values())
    return {
        "supplier_id": supplier.id,
        "supplier_name": supplier.name,
        "from": start,
        "to": end,
        "currency": "CNY",
        "lines": sorted(
            lines.values(), key=lambda line: (line["product_name"] or "", line["offer_id"])
        ),
        "late_successes": [
            {
                "delivery_id": c.delivery.id,
                "partner_id": c.delivery.partner_id,
                "supplier_order_no": (c.delivery.late_result or {}).get("supplier_order_no"),
                "kind": (c.delivery.late_result or {}).get("kind", "late_success"),
                "cost_minor": c.late_cost_minor,
            }
            for c in late
        ],
        "delivered_minor": owed,
        "late_successes_minor": late_minor,
        "total_minor": owed + late_minor,
    }


# --- reconciliation ------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementRow:
    line: int
    reference: str | None
    supplier_order_no: str | None
    status: str
    amount_minor: int
    completed_at: datetime | None


MAX_STATEMENT_AMOUNT = Decimal("10000000000")  # ¥10 billion: beyond that it is not an amount


def _minor(text: str) -> int:
    amount = Decimal(text.replace(",", "").strip())
    if amount != amount.quantize(Decimal("0.01")) or abs(amount) > MAX_STATEMENT_AMOUNT:
        raise InvalidOperation
    return int(amount * 100)


def parse_statement(raw: bytes) -> list[StatementRow]:
    """A supplier statement CSV with a header: reference (our delivery id) and/or
    supplier_order_no, status, amount (yuan, e.g. 20.00), optional completed_at (ISO).
    All or nothing: every bad line is named."""
    if len(raw) > MAX_STATEMENT_BYTES:
        raise ValidationFailed({"file": ["Larger than 20 MiB."]})
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed({"file": ["Not UTF-8 text."]}) from None
    if NUL in text:
        raise ValidationFailed({"file": [NUL_MESSAGE]})
    reader = csv.DictReader(io.StringIO(text))
    header = {(name or "").strip() for name in reader.fieldnames or []}
    missing = {"status", "amount"} - header
    if missing or not header & {"reference", "supplier_order_no"}:
        raise ValidationFailed(
            {"file": ["Needs columns status, amount and reference or supplier_order_no."]}
        )
    rows, errors = [], {}
    for line, record in enumerate(reader, start=2):
        record = {(k or "").strip(): (v or "").strip() for k, v in record.items()}
        reference = record.get("reference") or None
        order_no = record.get("supplier_order_no") or None
        status = STATUS_WORDS.get(record.get("status", "").lower())
        problems = []
        if not reference and not order_no:
            problems.append("no reference or supplier_order_no")
        if len(reference or "") > 120 or len(order_no or "") > 120:
            problems.append("reference and supplier_order_no are at most 120 characters")
        if status is None:
            problems.append(f"unknown status {record.get('status')!r}")
        try:
            amount = _minor(record.get("amount", ""))
        except (InvalidOperation, ValueError):
            problems.append(f"amount {record.get('amount')!r} is not a yuan amount")
            amount = 0
        completed_at = None
        if record.get("completed_at"):
            try:
                completed_at = datetime.fromisoformat(record["completed_at"])
                if completed_at.tzinfo is None:
                    completed_at = completed_at.replace(tzinfo=PLATFORM_TZ)
                if not 1970 < completed_at.year < 3000:
                    raise ValueError
            except ValueError:
                problems.append(f"completed_at {record['completed_at']!r} is not ISO 8601")
        if problems:
            errors[f"line {line}"] = problems
            continue
        rows.append(StatementRow(line, reference, order_no, status or "", amount, completed_at))
    if errors:
        raise ValidationFailed(errors)
    if not rows:
        raise ValidationFailed({"file": ["The statement has no rows."]})
    return rows


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


def statement_period(rows: list[StatementRow]) -> tuple[date, date]:
    days = [r.completed_at.astimezone(PLATFORM_TZ).date() for r in rows if r.completed_at]
    if not days:
        raise ValidationFailed(
            {"from": ["The statement has no completed_at dates: give 'from' and 'to'."]}
        )
    return min(days), date.fromordinal(max(days).toordinal() + 1)


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
    offers = _Offers(session, {c.delivery.product_id for c in known})
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


def get_reconciliation(session: Session, reconciliation_id: str) -> Reconciliation:
    run = session.get(Reconciliation, reconciliation_id)
    if run is None:
        raise NotFound("Reconciliation not found.")
    return run


def list_reconciliations(
    session: Session, supplier_id: str, limit: int, cursor: str | None
) -> Page[Reconciliation]:
    stmt = select(Reconciliation).where(Reconciliation.supplier_id == supplier_id)
    return paginate(session, stmt, Reconciliation.id, limit, cursor)


# --- margins -------------------------------------------------------------------------------


def margins(session: Session, start: datetime, end: datetime, group_by: str) -> dict[str, Any]:
    """Revenue (wholesale of delivered units, plus invoiced fees net of credit notes when grouped
    by partner) minus supplier cost, for orders placed in [start, end). Refunded units earn
    nothing; a late supplier success on one is pure cost. Units still in flight are counted
    apart. A bundle unit's wholesale is shared among its component deliveries."""
    costed = costed_deliveries(session, Order.created_at >= start, Order.created_at < end)
    per_unit: dict[tuple[str, int], list[Costed]] = defaultdict(list)
    for c in costed:
        per_unit[(c.delivery.item_id, c.delivery.unit)].append(c)
    rows: dict[str, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(
            ("units_delivered", "units_in_flight", "wholesale_minor", "fees_minor", "cost_minor"), 0
        )
    )
    for group in per_unit.values():
        share, remainder = divmod(group[0].unit_wholesale_minor, len(group))
        for i, c in enumerate(group):
            d = c.delivery
            if d.status == "delivered":
                row = rows[_group_key(group_by, d.partner_id, d.product_id, c.supplier_id)]
                row["units_delivered"] += 1
                row["wholesale_minor"] += share + (remainder if i == 0 else 0)
                row["cost_minor"] += c.cost_minor or 0
            elif d.status in ("pending", "submitted"):
                rows[_group_key(group_by, d.partner_id, d.product_id, c.supplier_id)][
                    "units_in_flight"
                ] += 1
            if c.late_supplier_id and d.status != "delivered":
                row = rows[_group_key(group_by, d.partner_id, d.product_id, c.late_supplier_id)]
                row["cost_minor"] += c.late_cost_minor or 0
    fees = _fees_by_partner(session, start, end)
    if group_by == "partner":
        for partner_id, amount in fees.items():
            rows[partner_id]["fees_minor"] += amount
    labels = _labels(session, group_by, set(rows))
    out = []
    for key, row in sorted(rows.items(), key=lambda kv: labels.get(kv[0], kv[0])):
        out.append({"key": key, "label": labels.get(key, key), **_with_margin(row)})
    totals = {
        name: sum(r[name] for r in rows.values())
        for name in ("units_delivered", "units_in_flight", "wholesale_minor", "cost_minor")
    }
    totals["fees_minor"] = sum(fees.values())
    return {
        "group_by": group_by,
        "from": start,
        "to": end,
        "currency": "CNY",
        "rows": out,
        "totals": _with_margin(totals),
    }


def _group_key(group_by: str, partner_id: str, product_id: str, supplier_id: str | None) -> str:
    return {"partner": partner_id, "product": product_id}.get(group_by) or (
        supplier_id or "unknown"
    )


def _with_margin(row: dict[str, int]) -> dict[str, int | None]:
    revenue = row["wholesale_minor"] + row["fees_minor"]
    margin = revenue - row["cost_minor"]
    return {
        **row,
        "revenue_minor": revenue,
        "margin_minor": margin,
        "margin_bp": (margin * 10_000) // revenue if revenue > 0 else None,
    }


def _fees_by_partner(session: Session, start: datetime, end: datetime) -> dict[str, int]:
    """Fees on issued invoices for months starting in [start, end), less their credit notes."""
    invoices = session.scalars(
        select(Invoice).where(
            Invoice.status.in_(("issued", "paid")),
            Invoice.period_start >= start,
            Invoice.period_start < end,
        )
    ).all()
    fees: dict[str, int] = defaultdict(int)
    for invoice in invoices:
        if invoice.kind == "credit_note":
            fees[invoice.partner_id] += invoice.subtotal_minor
        else:
            fees[invoice.partner_id] += fees_of(invoice)
    return dict(fees)


def _labels(session: Session, group_by: str, keys: set[str]) -> dict[str, str]:
    model: Any = {"partner": Partner, "product": Product, "supplier": Supplier}[group_by]
    return dict(session.execute(select(model.id, model.name).where(model.id.in_(keys))).all())

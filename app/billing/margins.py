"""What the platform earns: wholesale and fees against supplier cost, grouped by partner,
product or supplier."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.invoices import fees_of
from app.billing.models import Invoice
from app.billing.settlement import Costed, costed_deliveries, group_labels
from app.core.money import PLATFORM_CURRENCY
from app.orders.models import Order

GROUPS = ("partner", "product", "supplier")


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
    labels = group_labels(session, group_by, set(rows))
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
        "currency": PLATFORM_CURRENCY,
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

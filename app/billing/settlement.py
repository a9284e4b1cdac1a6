"""What we owe suppliers. Costs come from offers: a direct recharge from the offer it was
delivered by, a card key from its batch's offer (or, for a batch imported without one, the
product's first offer). A success the supplier reported after we had refunded the member still
costs us."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.errors import ValidationFailed
from app.core.money import PLATFORM_CURRENCY
from app.fulfillment.models import Delivery
from app.orders.models import Order, OrderItem
from app.partners.models import Partner
from app.supply.models import Code, CodeBatch, Offer, Product, Supplier
from app.supply.suppliers import PLATFORM_TZ

REFUNDED = ("failed", "cancelled")


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


class OfferCosts:
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
        .join(Partner, Partner.id == Delivery.partner_id)
        .where(Partner.sandbox_of_id.is_(None), *where)  # sandbox units cost and earn nothing
        .order_by(Delivery.id)
    ).all()
    offers = OfferCosts(session, {row[0].product_id for row in rows})
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
    names = group_labels(session, "product", {line["product_id"] for line in lines.values()})
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
        "currency": PLATFORM_CURRENCY,
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


def group_labels(session: Session, group_by: str, keys: set[str]) -> dict[str, str]:
    model: Any = {"partner": Partner, "product": Product, "supplier": Supplier}[group_by]
    return dict(session.execute(select(model.id, model.name).where(model.id.in_(keys))).all())

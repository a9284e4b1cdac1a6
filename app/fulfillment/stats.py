"""How suppliers and stock are doing (the platform API and the operator console): per supplier
over a window, deliveries, failovers away from it, success rate, p50/p95 time from
submission to delivery; per product, units delivered per day."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.fulfillment.models import Delivery
from app.supply.models import Offer, Supplier


def supplier_stats(session: Session, supplier_id: str, since: datetime) -> dict[str, object]:
    """How a supplier has served us since `since` (see `all_supplier_stats`)."""
    return all_supplier_stats(session, since, [supplier_id])[supplier_id]


def all_supplier_stats(
    session: Session, since: datetime, supplier_ids: list[str] | None = None
) -> dict[str, dict[str, object]]:
    """Per supplier since `since`: outcomes of the direct-recharge and link deliveries its
    offers took, how often we failed over away from it, what is in flight, and
    submit→delivered latency. Every supplier (or those named), from one read."""
    owner = dict(session.execute(select(Offer.id, Offer.supplier_id)).all())
    ids = supplier_ids or list(session.scalars(select(Supplier.id)))
    mine: dict[str, list[Delivery]] = {supplier_id: [] for supplier_id in ids}
    failovers: Counter[str] = Counter()
    for delivery in session.scalars(
        select(Delivery).where(
            Delivery.created_at >= since, Delivery.fulfillment_type != "card_key"
        )
    ):
        taker = owner.get(delivery.offer_id or "")
        if taker in mine:
            mine[taker].append(delivery)
        for tried in delivery.tried_offer_ids or []:
            failovers[owner.get(tried, "")] += 1
    return {
        supplier_id: _summary(supplier_id, since, mine[supplier_id], failovers[supplier_id])
        for supplier_id in ids
    }


def _summary(
    supplier_id: str, since: datetime, mine: list[Delivery], failovers: int
) -> dict[str, object]:
    delivered = [d for d in mine if d.status == "delivered"]
    latencies = sorted(
        (d.delivered_at - d.submitted_at).total_seconds() * 1000
        for d in delivered
        if d.delivered_at and d.submitted_at
    )

    def pct(p: float) -> float | None:
        return (
            round(latencies[min(len(latencies) - 1, int(len(latencies) * p))], 1)
            if latencies
            else None
        )

    finished = len(delivered) + failovers
    return {
        "supplier_id": supplier_id,
        "since": since,
        "deliveries": len(mine) + failovers,
        "delivered": len(delivered),
        "failovers": failovers,
        "pending": sum(1 for d in mine if d.status == "submitted"),
        "success_rate": round(len(delivered) / finished, 4) if finished else None,
        "latency_ms_p50": pct(0.50),
        "latency_ms_p95": pct(0.95),
    }


def units_per_day(
    session: Session, product_id: str, first: date, last: date
) -> list[tuple[date, int]]:
    """Units of a product delivered per (UTC) day from `first` to `last`."""
    day = func.date(Delivery.delivered_at)
    rows = session.execute(
        select(day, func.count())
        .where(
            Delivery.product_id == product_id,
            Delivery.status == "delivered",
            Delivery.delivered_at >= datetime.combine(first, time(), UTC),
            Delivery.delivered_at < datetime.combine(last + timedelta(days=1), time(), UTC),
        )
        .group_by(day)
    )
    # PostgreSQL answers dates, SQLite ISO strings
    return [(d if isinstance(d, date) else date.fromisoformat(str(d)), n) for d, n in rows]

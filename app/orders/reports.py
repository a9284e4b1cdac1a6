"""The partner dashboard's figures, from one row per partner and day (`order_day_stats`),
so the dashboard costs a few rows per day shown whatever the history (1,000,000 orders or
ten). A day's row is computed from that day's orders and their deliveries alone: ids are
time-ordered, so "placed that day" is an id range on the (partner_id, id) index.

Rows are refreshed by a job (today and yesterday every few minutes; the last 35 days nightly,
for late failures and refunds); today is always computed live, and a past day without a row
(a new partner, a job that has not run) is computed live too, never left out.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.db import day_bounds
from app.core.ids import id_floor
from app.fulfillment.models import Delivery
from app.orders.models import LATENCY_BUCKETS_SECONDS, Order, OrderDayStat, OrderItem
from app.supply.models import Product

NOT_REDEEMED = ("failed", "cancelled", "refunded")
BUCKETS = len(LATENCY_BUCKETS_SECONDS) + 1


@dataclass
class DayFigures:
    orders: int = 0
    points: int = 0
    cash_minor: int = 0
    wholesale_minor: int = 0
    delivered: int = 0
    failed: int = 0
    in_flight: int = 0
    latency_buckets: list[int] = field(
        default_factory=lambda: [0] * (len(LATENCY_BUCKETS_SECONDS) + 1)
    )
    product_units: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Dashboard:
    orders: int
    points: int
    cash_minor: int
    wholesale_minor: int
    delivered: int
    failed: int
    in_flight: int
    p50_seconds: int | None  # the bucket bound the median falls under
    p95_seconds: int | None
    per_day: list[tuple[date, int]]
    top_products: list[tuple[str, int]]
    latency_buckets: list[int]  # deliveries per LATENCY_BUCKETS_SECONDS bucket, then above

    def runway_days(self, available_minor: int, days: int) -> float | None:
        """How many days the available balance lasts at this period's wholesale spend."""
        per_day = self.wholesale_minor / days if days else 0
        return max(available_minor, 0) / per_day if per_day else None

    @property
    def success_rate(self) -> float | None:
        done = self.delivered + self.failed
        return self.delivered / done if done else None


def compute_day(session: Session, partner_id: str, day: date, timezone: str) -> DayFigures:
    """The figures of the orders placed on `day` (in the partner's timezone)."""
    start, end = day_bounds(day, timezone)
    low, high = id_floor("ord", start), id_floor("ord", end)
    placed = (Order.partner_id == partner_id, Order.id >= low, Order.id < high)
    redeemed = (*placed, Order.status.not_in(NOT_REDEEMED))
    figures = DayFigures()
    figures.orders = session.scalar(select(func.count()).where(*placed)) or 0
    points, cash, wholesale = session.execute(
        select(
            func.coalesce(func.sum(Order.points_total), 0),
            func.coalesce(func.sum(Order.cash_total_minor), 0),
            func.coalesce(func.sum(Order.wholesale_total_minor), 0),
        ).where(*redeemed)
    ).one()
    figures.points, figures.cash_minor, figures.wholesale_minor = (
        int(points),
        int(cash),
        int(wholesale),
    )
    of_the_day = (
        Delivery.partner_id == partner_id,
        Delivery.order_id >= low,
        Delivery.order_id < high,
    )
    for status, count in session.execute(
        select(Delivery.status, func.count()).where(*of_the_day).group_by(Delivery.status)
    ):
        if status == "delivered":
            figures.delivered = int(count)
        elif status == "failed":
            figures.failed = int(count)
        elif status in ("pending", "submitted"):
            figures.in_flight += int(count)
    for created_at, delivered_at in session.execute(
        select(Delivery.created_at, Delivery.delivered_at).where(
            *of_the_day, Delivery.status == "delivered", Delivery.delivered_at.is_not(None)
        )
    ):
        if delivered_at is None:
            continue
        seconds = max(0.0, (delivered_at - created_at).total_seconds())
        figures.latency_buckets[bisect_left(LATENCY_BUCKETS_SECONDS, seconds)] += 1
    units = func.sum(OrderItem.quantity)
    figures.product_units = {
        product_id: int(count)
        for product_id, count in session.execute(
            select(OrderItem.product_id, units)
            .join(Order, Order.id == OrderItem.order_id)
            .where(*redeemed)
            .group_by(OrderItem.product_id)
        )
    }
    return figures


def refresh_days(
    session: Session, partner_id: str, timezone: str, days: list[date], now: datetime
) -> None:
    """Recompute and store the rows of `days` (idempotent: a row is replaced whole)."""
    for day in days:
        figures = compute_day(session, partner_id, day, timezone)
        session.merge(
            OrderDayStat(
                partner_id=partner_id,
                day=day,
                orders=figures.orders,
                points=figures.points,
                cash_minor=figures.cash_minor,
                wholesale_minor=figures.wholesale_minor,
                delivered=figures.delivered,
                failed=figures.failed,
                in_flight=figures.in_flight,
                latency_buckets=figures.latency_buckets,
                product_units=figures.product_units,
                refreshed_at=now,
            )
        )


def dashboard(
    session: Session, partner_id: str, timezone: str, first: date, today: date, top: int = 5
) -> Dashboard:
    """Days `first`..`today`: stored rows for past days, the rest (today included) live."""
    stored = {
        row.day: row
        for row in session.scalars(
            select(OrderDayStat).where(
                OrderDayStat.partner_id == partner_id,
                OrderDayStat.day >= first,
                OrderDayStat.day < today,
            )
        )
    }
    days = [first + timedelta(days=n) for n in range((today - first).days + 1)]
    figures: list[tuple[date, DayFigures | OrderDayStat]] = [
        (day, stored[day] if day in stored else compute_day(session, partner_id, day, timezone))
        for day in days
    ]
    buckets = [0] * BUCKETS
    units: Counter[str] = Counter()
    for _day, f in figures:
        for i, count in enumerate(f.latency_buckets):
            buckets[i] += count
        units.update(f.product_units)
    leaders = units.most_common(top)
    names = dict(
        session.execute(
            select(Product.id, Product.name).where(Product.id.in_([p for p, _ in leaders]))
        ).all()
    )
    return Dashboard(
        orders=sum(f.orders for _d, f in figures),
        points=sum(f.points for _d, f in figures),
        cash_minor=sum(f.cash_minor for _d, f in figures),
        wholesale_minor=sum(f.wholesale_minor for _d, f in figures),
        delivered=sum(f.delivered for _d, f in figures),
        failed=sum(f.failed for _d, f in figures),
        in_flight=sum(f.in_flight for _d, f in figures),
        p50_seconds=_bucket_percentile(buckets, 50),
        p95_seconds=_bucket_percentile(buckets, 95),
        per_day=[(day, f.orders) for day, f in figures],
        top_products=[(names.get(p, p), n) for p, n in leaders],
        latency_buckets=buckets,
    )


def _bucket_percentile(buckets: list[int], pct: int) -> int | None:
    """The upper bound (seconds) of the bucket the percentile falls in; past the last bound,
    the last bound (shown as "more than")."""
    total = sum(buckets)
    if not total:
        return None
    rank, seen = -(-pct * total // 100), 0
    for i, count in enumerate(buckets):
        seen += count
        if seen >= rank:
            return LATENCY_BUCKETS_SECONDS[min(i, len(LATENCY_BUCKETS_SECONDS) - 1)]
    return LATENCY_BUCKETS_SECONDS[-1]


def failed_recently(
    session: Session, partner_id: str, since: datetime, most: int = 10
) -> list[Delivery]:
    """The newest failed deliveries of orders placed since `since`, for someone to look at."""
    return list(
        session.scalars(
            select(Delivery)
            .where(
                Delivery.partner_id == partner_id,
                Delivery.order_id >= id_floor("ord", since),
                Delivery.status == "failed",
            )
            .order_by(Delivery.id.desc())
            .limit(most)
        )
    )

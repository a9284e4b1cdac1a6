"""Orders after checkout: reading them, cancelling units, refunding units that failed.

Refunds lock in the order written in app/orders/checkout.py, from the member on.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.service import refund_order
from app.core.audit import Actor
from app.core.db import utcnow
from app.core.errors import Conflict
from app.core.pagination import Page, paginate
from app.core.tenancy import get_owned, scoped
from app.entitlements.models import Entitlement
from app.fulfillment.models import Delivery
from app.members import external as external_points
from app.members.models import Member, PointsEntry
from app.members.service import lock_member, refund_points
from app.orders.models import Case, Order, OrderItem
from app.orders.state import transition
from app.partners import quotas
from app.supply.stock import release_capacity


class OrderNotCancellable(Conflict):
    code = "order_not_cancellable"


def refund_units(
    session: Session, order: Order, units: list[tuple[str, int]], why: str
) -> tuple[int, int]:
    """Give back what `units` ((item id, unit index) pairs) cost: the member's points, the
    quota usage the order counted, direct-recharge capacity (a bundle's components included)
    and the partner's wholesale charge, in the lock order (app/orders/checkout.py). Returns (points,
    wholesale_minor) refunded. The caller has already marked the units' deliveries."""
    items = {item.id: item for item in order.items}
    per_item = Counter(item_id for item_id, _unit in units)
    points = sum(items[item_id].unit_points * n for item_id, n in per_item.items())
    wholesale = sum(items[item_id].unit_wholesale_minor * n for item_id, n in per_item.items())
    member = lock_member(session, order.member_id)
    if points and order.points_entry_id:
        spend = session.get_one(PointsEntry, order.points_entry_id)
        refund_points(session, member, spend, points, f"order {order.id} {why}")
    elif points and external_points.paid_at_partner(session, order.partner_id, order.id):
        external_points.refund_for_order(
            session, order.partner_id, member.id, order.id, points, f"order {order.id} {why}"
        )
    units_by_listing: Counter[str] = Counter()
    for item_id, n in per_item.items():
        units_by_listing[items[item_id].listing_id] += n
    quotas.release(session, order.partner_id, order.quota_usage, units_by_listing, wholesale)
    refunded = set(units)
    # read, not the order's loaded collection: a reissue may have added a delivery since; one
    # replaced by a reissue used its capacity on a supplier that delivered
    capacity = Counter(
        product_id
        for product_id, item_id, unit in session.execute(
            select(Delivery.product_id, Delivery.item_id, Delivery.unit).where(
                Delivery.order_id == order.id,
                Delivery.fulfillment_type != "card_key",
                Delivery.replaced_by_id.is_(None),
            )
        )
        if (item_id, unit) in refunded
    )
    for product_id in sorted(capacity):
        release_capacity(session, product_id, capacity[product_id])
    if wholesale:
        refund_order(session, order.partner_id, wholesale, order.id, f"order {why}")
    return points, wholesale


# an order whose units have all settled; after-sales may still take its last unit back
SETTLED = ("fulfilled", "partially_fulfilled")


def units_kept(session: Session, order: Order) -> int:
    """Units the member still holds: delivered (not replaced by a reissue) and not refunded by
    after-sales."""
    refunded_deliveries = set(
        session.scalars(
            select(Case.delivery_id).where(Case.order_id == order.id, Case.resolution == "refunded")
        )
    )
    rows = session.execute(
        select(Delivery.id, Delivery.item_id, Delivery.unit, Delivery.status).where(
            Delivery.order_id == order.id, Delivery.replaced_by_id.is_(None)
        )
    ).all()
    refunded = {(item, unit) for id_, item, unit, _ in rows if id_ in refunded_deliveries}
    held = {(item, unit) for _, item, unit, status in rows if status == "delivered"}
    return len(held - refunded)


def close_if_nothing_kept(session: Session, actor: Actor, order: Order) -> None:
    """A settled order of which after-sales took every unit back becomes `refunded`."""
    if order.status in (*SETTLED, "partially_refunded") and not units_kept(session, order):
        transition(session, actor, order, "refunded", action="order.refunded")


def cancel_order(session: Session, actor: Actor, partner_id: str, order_id: str) -> Order:
    """Cancel every unit not yet handed to a supplier; refund its points and wholesale charge."""
    order = get_owned(
        session, Order, partner_id, Order.id == order_id, for_update=True, label="Order"
    )
    deliveries = session.scalars(
        select(Delivery).where(Delivery.order_id == order.id).with_for_update()
    ).all()
    by_unit: dict[tuple[str, int], list[Delivery]] = {}
    for delivery in deliveries:
        by_unit.setdefault((delivery.item_id, delivery.unit), []).append(delivery)
    cancellable = [
        key for key, group in by_unit.items() if all(d.status == "pending" for d in group)
    ]
    if not cancellable:
        raise OrderNotCancellable(
            "Every unit of this order is delivered, in flight or already cancelled."
        )
    now = utcnow()
    for key in cancellable:
        for delivery in by_unit[key]:
            delivery.status = "cancelled"
    points, wholesale = refund_units(session, order, cancellable, "cancelled")
    remaining = [key for key in by_unit if key not in cancellable]
    order.cancelled_at = now
    transition(
        session,
        actor,
        order,
        "partially_refunded" if remaining else "cancelled",
        action="order.cancelled",
        audit={
            "units_cancelled": len(cancellable),
            "points_refunded": points,
            "wholesale_refunded_minor": wholesale,
        },
    )
    return order


def get_order(session: Session, partner_id: str, order_id: str) -> Order:
    return get_owned(session, Order, partner_id, Order.id == order_id, label="Order")


def find_any_order(session: Session, reference: str) -> Order | None:
    """The platform looks an order up, whichever partner's it is, by any id it is known by:
    its own, one of its items', deliveries', entitlements' or cases', or (when it is none of
    ours) a partner's `client_reference`."""
    reference = reference.strip()
    owners: dict[str, Any] = {
        "itm": OrderItem,
        "dlv": Delivery,
        "ent": Entitlement,
        "cas": Case,
    }
    prefix = reference.split("_", 1)[0]
    if prefix == Order.id_prefix:
        order_id: str | None = reference
    elif prefix in owners:
        model = owners[prefix]
        order_id = session.scalar(select(model.order_id).where(model.id == reference))
    else:
        order_id = session.scalar(
            select(Order.id).where(Order.client_reference == reference).limit(1)
        )
    return session.get(Order, order_id) if order_id else None


def list_orders(
    session: Session, partner_id: str, limit: int, cursor: str | None, filters: dict[str, Any]
) -> Page[Order]:
    stmt = scoped(Order, partner_id)
    if filters.get("member"):
        stmt = stmt.where(
            Order.member_id.in_(
                select(Member.id).where(
                    Member.partner_id == partner_id, Member.external_id == filters["member"]
                )
            )
        )
    if filters.get("client_reference"):
        stmt = stmt.where(Order.client_reference == filters["client_reference"])
    if filters.get("status"):
        stmt = stmt.where(Order.status == filters["status"])
    if filters.get("product"):
        stmt = stmt.where(
            Order.id.in_(
                select(OrderItem.order_id).where(
                    OrderItem.partner_id == partner_id, OrderItem.product_id == filters["product"]
                )
            )
        )
    if filters.get("created_from"):
        stmt = stmt.where(Order.created_at >= filters["created_from"])
    if filters.get("created_to"):
        stmt = stmt.where(Order.created_at < filters["created_to"])
    return paginate(session, stmt, Order.id, limit, cursor)

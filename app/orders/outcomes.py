"""What an order does when the fulfillment engine settles one of its units: the delivered unit
becomes the member's entitlement, a failed unit is refunded, and the order's status follows
once nothing is in flight. Connected to the engine's signals when app.orders is imported, and
run in the engine's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.audit import SYSTEM
from app.entitlements.service import issue
from app.fulfillment.models import Delivery
from app.fulfillment.service import unit_delivered, unit_failed
from app.orders.models import Order
from app.orders.service import SETTLED, close_if_nothing_kept, refund_units
from app.orders.state import transition
from app.supply.models import Code, Product


@unit_delivered.connect
def issue_entitlement(
    delivery: Delivery,
    *,
    session: Session,
    now: datetime,
    link: Code | None,
    provenance: dict[str, Any],
) -> None:
    order = session.get_one(Order, delivery.order_id)
    item = next(i for i in order.items if i.id == delivery.item_id)
    issue(
        session,
        order.member,
        order.id,
        delivery.id,
        session.get_one(Product, delivery.product_id),  # a bundle's component: its own validity
        now,
        provenance=provenance,
        code=link,
        bundle=item.snapshot["product_name"] if item.snapshot["components"] else None,
        recharge_account=delivery.recharge_account,
        supplier_order_no=delivery.supplier_order_no,
    )
    roll_up(session, order)


@unit_failed.connect
def refund_failed_unit(delivery: Delivery, *, session: Session, now: datetime) -> None:
    """A unit is refunded once, however many of its deliveries (a bundle's components) fail."""
    order = session.get_one(Order, delivery.order_id)
    siblings = session.scalars(
        select(Delivery.status).where(
            Delivery.item_id == delivery.item_id,
            Delivery.unit == delivery.unit,
            Delivery.id != delivery.id,
            Delivery.replaced_by_id.is_(None),
        )
    ).all()
    if "failed" not in siblings:
        refund_units(session, order, [(delivery.item_id, delivery.unit)], "unit failed")
    roll_up(session, order)


def roll_up(session: Session, order: Order) -> None:
    """The order's status once none of its deliveries is in flight (deliveries replaced by an
    after-sales reissue do not count: their replacements do). An order settled before, whose
    reissued unit has now settled, becomes `refunded` when the member keeps nothing of it."""
    session.flush()
    statuses = list(
        session.scalars(
            select(Delivery.status).where(
                Delivery.order_id == order.id, Delivery.replaced_by_id.is_(None)
            )
        )
    )
    if any(s in ("pending", "submitted") for s in statuses) or order.status == "cancelled":
        return
    if order.status in SETTLED:
        close_if_nothing_kept(session, SYSTEM, order)
        return
    delivered = statuses.count("delivered")
    live = [s for s in statuses if s != "cancelled"]
    new = (
        "fulfilled"
        if delivered == len(live)
        else "failed"
        if delivered == 0
        else "partially_fulfilled"
    )
    if new != order.status:
        transition(session, SYSTEM, order, new)

"""Placing and cancelling orders.

LOCK ORDER. Every path that locks more than one of these rows takes them in this order, and
within a kind by id (or counter key), so two transactions never wait for each other in a
circle (a deadlock: placing and refunding once took counters and capacity the other way round):

    order → its deliveries → codes → member → points lots → quota counters
          → product capacity → partner account

`place_order` runs in the caller's single transaction: listings (with the partner's pools of
their products) → card-key claim (stock first: a sold-out order is refused before anything
else) → member (locked) with its partner's limits → prices → points debit (lots locked; the
rows written with the order's) → quota counters → direct-recharge capacity → partner charge
(last: its row is the partner's hottest). Any refusal raises before commit, so nothing is
half-written. Prices come from the listings, never from the client. `refund_units` (cancels,
failed units) follows the same order from the member on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.billing.service import charge_order, refund_order
from app.core.audit import Actor, audit_row, record_audit
from app.core.db import Companion, insert_rows, utcnow
from app.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from app.core.pagination import Page, paginate
from app.core.queue import enqueue_after_commit
from app.core.tenancy import get_owned, scoped
from app.core.vault import Vault
from app.entitlements.models import Entitlement
from app.entitlements.service import validity_end
from app.fulfillment.models import Delivery
from app.members.errors import MemberBlocked
from app.members.models import Member, PointsEntry
from app.members.service import (
    lock_member,
    lock_member_for_order,
    member_phone,
    refund_points,
    stage_spend,
)
from app.orders.models import Order, OrderItem
from app.partners import quotas
from app.partners.listings import Price, member_price, sellable_listing
from app.partners.models import Listing, Partner
from app.supply.models import Code, Product
from app.supply.service import (
    Pools,
    allocate_codes,
    code_provenance,
    recharge_account_error,
    release_capacity,
    reserve_capacity,
)
from app.webhooks.service import event_rows, record_event

SUBMIT_JOB = "app.fulfillment.jobs.submit_delivery"


class ListingNotFound(NotFound):
    code, title = "listing_not_found", "Listing not found"


class PriceChanged(Conflict):
    code, title = "price_changed", "Price changed"


class PaymentMismatch(DomainError):
    status, code, title = 422, "payment_mismatch", "Payment does not match the total"


class InvalidRechargeAccount(DomainError):
    status, code, title = 422, "invalid_recharge_account", "Invalid recharge account"


class OrderNotCancellable(Conflict):
    code, title = "order_not_cancellable", "Nothing left to cancel"


@dataclass(frozen=True)
class OrderLine:
    listing_id: str
    quantity: int
    recharge_account: str | None = None


@dataclass
class _Priced:
    listing: Listing
    quantity: int
    unit: Price
    recharge_account: str | None


def _sellable_listings(
    session: Session, partner_id: str, lines: list[OrderLine]
) -> list[tuple[Listing, Pools]]:
    """The listing of each line, sellable to this partner, with a quantity it allows, and the
    partner's pools of its product."""
    seen = Counter(line.listing_id for line in lines)
    listings = []
    for i, line in enumerate(lines):
        if seen[line.listing_id] > 1:
            raise ValidationFailed({f"items.{i}.listing": ["Listed twice; use quantity."]})
        try:
            listing, pools = sellable_listing(session, partner_id, line.listing_id)
        except NotFound:
            raise ListingNotFound(
                f"No sellable listing {line.listing_id!r}.", field=f"items.{i}.listing"
            ) from None
        if not 1 <= line.quantity <= listing.max_per_order:
            raise ValidationFailed(
                {f"items.{i}.quantity": [f"Must be between 1 and {listing.max_per_order}."]}
            )
        listings.append((listing, pools))
    return listings


def _price_lines(
    member: Member,
    lines: list[OrderLine],
    listings: list[Listing],
    now: datetime,
    vault: Vault | None,
) -> list[_Priced]:
    """Each line at the member's price, with the account a direct recharge goes to (the
    member's own phone, opened from the vault, when the line names none)."""
    priced = []
    for i, (line, listing) in enumerate(zip(lines, listings, strict=True)):
        product = listing.product
        account = None
        if product.fulfillment_type == "direct_recharge":
            kind = product.recharge_account_kind or "account_id"
            account = line.recharge_account
            if account is None and kind == "phone" and vault is not None:
                account = member_phone(vault, member)
            problem = recharge_account_error(kind, account)
            if problem:
                raise InvalidRechargeAccount(
                    problem, field=f"items.{i}.recharge_account", account_kind=kind
                )
        priced.append(
            _Priced(listing, line.quantity, member_price(listing, member.tier, now), account)
        )
    return priced


def _claim_card_keys(
    session: Session, partner_id: str, lines: list[OrderLine], listings: list[tuple[Listing, Pools]]
) -> dict[tuple[int, str], list[Code]]:
    """Claim every card key the order needs, as `sold`, before the member is read and before
    anything is written, per (line position, product): a sold-out order (a flash sale's many losers)
    is refused after the listing reads and one UPDATE that finds nothing, and the claimed codes are
    out of everyone else's reach until this transaction ends. Raises OutOfStock."""
    claimed = {}
    for position, (line, (listing, pools)) in enumerate(zip(lines, listings, strict=True)):
        for component, per_unit in _units(listing.product):
            if component.fulfillment_type == "card_key":
                claimed[(position, component.id)] = allocate_codes(
                    session,
                    component,
                    partner_id,
                    line.quantity * per_unit,
                    status="sold",
                    # a bundle's components have pools of their own, read by allocate_codes
                    pools=pools if component is listing.product else None,
                )
    return claimed


def _snapshot(listing: Listing, unit: Price) -> dict[str, Any]:
    product = listing.product
    return {
        "product_name": product.name,
        "brand": product.brand,
        "category": product.category,
        "fulfillment_type": product.fulfillment_type,
        "face_value": {"amount": product.face_value_minor, "currency": product.currency},
        "validity_days": product.validity_days,
        "member_price": {
            "points": unit.points,
            "cash": {"amount": unit.cash_minor, "currency": unit.currency},
            "source": unit.source,
        },
        "wholesale_price": {"amount": listing.wholesale_minor, "currency": listing.currency},
        "components": [
            {
                "product_id": c.component_id,
                "name": c.component.name,
                "brand": c.component.brand,
                "quantity": c.quantity,
            }
            for c in (product.components if product.is_bundle else [])
        ],
    }


def _check_totals(
    points: int, cash: int, currency: str, payment: dict[str, Any], expected: dict[str, Any] | None
) -> None:
    total = {"points": points, "cash": {"amount": cash, "currency": currency}}
    if expected is not None:
        exp_cash = expected.get("cash")
        if expected.get("points", 0) != points or (exp_cash.amount if exp_cash else 0) != cash:
            raise PriceChanged(
                "The total changed since the client computed it.", current_total=total
            )
    paid_cash = payment.get("cash")
    if paid_cash is not None and paid_cash.currency != currency:
        raise PaymentMismatch(f"Pay the cash part in {currency}.", current_total=total)
    if payment.get("points", 0) != points or (paid_cash.amount if paid_cash else 0) != cash:
        raise PaymentMismatch("Pay exactly the order total.", current_total=total)
    if cash and not payment.get("cash_payment_ref"):
        raise PaymentMismatch(
            "A cash part needs the partner's cash_payment_ref.", current_total=total
        )


def _units(product: Product) -> list[tuple[Product, int]]:
    """(product, count) to deliver for one unit: the product itself, or a bundle's components."""
    if product.is_bundle:
        return [(c.component, c.quantity) for c in product.components]
    return [(product, 1)]


def _deliver_codes(
    order: Order,
    member: Member,
    item: OrderItem,
    component: Product,
    deliveries: list[Delivery],
    codes: list[Code],
    now: datetime,
    provenance: dict[str, dict[str, Any]],
) -> list[Entitlement]:
    """Hand each delivery a code (claimed in this transaction) and the member an entitlement
    recording where the code came from."""
    entitlements = []
    for delivery, code in zip(deliveries, codes, strict=True):
        delivery.code_id, delivery.status, delivery.delivered_at = code.id, "delivered", now
        entitlements.append(
            Entitlement(
                partner_id=order.partner_id,
                member_id=member.id,
                order_id=order.id,
                delivery_id=delivery.id,
                product_id=component.id,
                code_id=code.id,
                masked_code=code.masked,
                status="active",
                valid_from=now,
                valid_until=validity_end(now, component.validity_days, code.expires_at),
                snapshot={
                    "product_name": component.name,
                    "brand": component.brand,
                    "fulfillment_type": component.fulfillment_type,
                    "face_value": {
                        "amount": component.face_value_minor,
                        "currency": component.currency,
                    },
                    "bundle": item.snapshot["product_name"]
                    if item.snapshot["components"]
                    else None,
                },
                provenance={**provenance.get(code.id, {}), "supplier_order_no": None},
            )
        )
    return entitlements


def place_order(
    session: Session,
    actor: Actor,
    partner_id: str,
    member_external_id: str,
    lines: list[OrderLine],
    payment: dict[str, Any],
    expected_total: dict[str, Any] | None = None,
    now: datetime | None = None,
    vault: Vault | None = None,
) -> Order:
    """Create, charge and (for card keys) fulfil an order, or raise and change nothing.
    `vault` opens the member's phone for a direct recharge that names no account."""
    now = now or utcnow()
    sellable = _sellable_listings(session, partner_id, lines)
    claimed = _claim_card_keys(session, partner_id, lines, sellable)  # stock first
    # the partner's limits are read with the member, only once the order can be served
    member, limits = lock_member_for_order(session, partner_id, member_external_id)
    if member.status != "active":
        raise MemberBlocked("This member is blocked and cannot order.")
    priced = _price_lines(member, lines, [listing for listing, _ in sellable], now, vault)
    currency = priced[0].listing.currency
    points = sum(p.unit.points * p.quantity for p in priced)
    cash = sum(p.unit.cash_minor * p.quantity for p in priced)
    wholesale = sum(p.listing.wholesale_minor * p.quantity for p in priced)
    _check_totals(points, cash, currency, payment, expected_total)
    # Known before anything is written: card keys are delivered in this transaction (or the
    # whole order fails), anything else is left to the fulfillment engine.
    pending = sum(
        p.quantity * per_unit
        for p in priced
        for component, per_unit in _units(p.listing.product)
        if component.fulfillment_type != "card_key"
    )
    order = Order(
        partner_id=partner_id,
        member_id=member.id,
        status="processing" if pending else "fulfilled",
        points_total=points,
        cash_total_minor=cash,
        currency=currency,
        wholesale_total_minor=wholesale,
        cash_payment_ref=payment.get("cash_payment_ref"),
    )
    provenance = code_provenance(session, [code.id for codes in claimed.values() for code in codes])
    items: list[OrderItem] = []
    all_deliveries: list[Delivery] = []
    entitlements: list[Entitlement] = []
    spent: list[PointsEntry] = []
    spending: list[Companion] = []
    if points:
        entry, spending = stage_spend(
            session, member, points, f"order {order.id}", order.id, now=now
        )
        order.points_entry_id, spent = entry.id, [entry]
    order.quota_usage = quotas.consume(
        session, limits, member.id, {p.listing.id: p.quantity for p in priced}, wholesale, now
    )
    capacity: Counter[str] = Counter()
    components: dict[str, Product] = {}
    for p in priced:
        for component, per_unit in _units(p.listing.product):
            if component.fulfillment_type != "card_key":
                capacity[component.id] += p.quantity * per_unit
                components[component.id] = component
    for product_id in sorted(capacity):
        reserve_capacity(session, components[product_id], capacity[product_id])
    for position, p in enumerate(priced):
        item = OrderItem(
            partner_id=partner_id,
            order_id=order.id,
            position=position,
            listing_id=p.listing.id,
            product_id=p.listing.product_id,
            quantity=p.quantity,
            recharge_account=p.recharge_account,
            unit_points=p.unit.points,
            unit_cash_minor=p.unit.cash_minor,
            unit_wholesale_minor=p.listing.wholesale_minor,
            snapshot=_snapshot(p.listing, p.unit),
        )
        items.append(item)
        for component, per_unit in _units(p.listing.product):
            deliveries = [
                Delivery(
                    partner_id=partner_id,
                    order_id=order.id,
                    item_id=item.id,
                    unit=unit,
                    product_id=component.id,
                    fulfillment_type=component.fulfillment_type,
                    status="pending",
                    recharge_account=p.recharge_account,
                )
                for unit in range(p.quantity)
                for _ in range(per_unit)
            ]
            all_deliveries += deliveries
            if component.fulfillment_type == "card_key":
                entitlements += _deliver_codes(
                    order,
                    member,
                    item,
                    component,
                    deliveries,
                    claimed[(position, component.id)],
                    now,
                    provenance,
                )
            else:
                for delivery in deliveries:  # the fulfillment engine takes them from here
                    enqueue_after_commit(session, SUBMIT_JOB, delivery.id, queue="fulfillment")
    summary = {"order_id": order.id, "member": member.external_id, "status": order.status}
    # the points taken, the order's own rows, its audit row and its events are complete and
    # never change in this transaction: written as they are, in one call (one statement on
    # PostgreSQL)
    audit = audit_row(
        actor,
        "order.created",
        "order",
        order.id,
        partner_id=partner_id,
        after={
            "status": order.status,
            "points": points,
            "cash_minor": cash,
            "wholesale_minor": wholesale,
        },
    )
    events = event_rows(
        session,
        [("order.created", summary)]
        + ([("order.fulfilled", summary)] if order.status == "fulfilled" else [])
        + [
            (
                "entitlement.created",
                {"entitlement_id": e.id, "order_id": order.id, "member": member.external_id},
            )
            for e in entitlements
        ],
        partner_id,
    )
    insert_rows(
        session, [*spent, order, *items, *all_deliveries, *entitlements, audit, *events], spending
    )
    # what the answer shows is known: no reloading it from the database
    set_committed_value(order, "member", member)
    set_committed_value(order, "items", items)
    set_committed_value(order, "deliveries", sorted(all_deliveries, key=lambda d: d.id))
    set_committed_value(order, "entitlements", sorted(entitlements, key=lambda e: e.id))
    if wholesale:
        # Last on purpose: the partner account row is shared by all of the partner's orders, and
        # its lock is held until commit; taking it last (everything else above is written
        # before it) keeps that window to the charge, its ledger entry, the idempotency record
        # and the commit.
        charge_order(session, partner_id, wholesale, order.id)
    return order


def refund_units(
    session: Session, partner: Partner, order: Order, units: list[tuple[str, int]], why: str
) -> tuple[int, int]:
    """Give back what `units` ((item id, unit index) pairs) cost: the member's points, the
    quota usage the order counted, direct-recharge capacity (a bundle's components included)
    and the partner's wholesale charge, locking in the module's lock order. Returns (points,
    wholesale_minor) refunded. The caller has already marked the units' deliveries."""
    items = {item.id: item for item in order.items}
    per_item = Counter(item_id for item_id, _unit in units)
    points = sum(items[item_id].unit_points * n for item_id, n in per_item.items())
    wholesale = sum(items[item_id].unit_wholesale_minor * n for item_id, n in per_item.items())
    member = lock_member(session, order.member_id)
    if points and order.points_entry_id:
        spend = session.get_one(PointsEntry, order.points_entry_id)
        refund_points(session, member, spend, points, f"order {order.id} {why}")
    units_by_listing: Counter[str] = Counter()
    for item_id, n in per_item.items():
        units_by_listing[items[item_id].listing_id] += n
    quotas.release(session, partner.id, order.quota_usage, units_by_listing, wholesale)
    refunded = set(units)
    capacity = Counter(
        d.product_id
        for d in order.deliveries
        if (d.item_id, d.unit) in refunded and d.fulfillment_type != "card_key"
    )
    for product_id in sorted(capacity):
        release_capacity(session, product_id, capacity[product_id])
    if wholesale:
        refund_order(session, partner.id, wholesale, order.id, f"order {why}")
    return points, wholesale


def cancel_order(session: Session, actor: Actor, partner: Partner, order_id: str) -> Order:
    """Cancel every unit not yet handed to a supplier; refund its points and wholesale charge."""
    order = get_owned(
        session, Order, partner.id, Order.id == order_id, for_update=True, label="Order"
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
    points, wholesale = refund_units(session, partner, order, cancellable, "cancelled")
    remaining = [key for key in by_unit if key not in cancellable]
    before = order.status
    order.status = "partially_refunded" if remaining else "cancelled"
    order.cancelled_at = now
    record_audit(
        session,
        actor,
        "order.cancelled",
        "order",
        order.id,
        partner_id=partner.id,
        before={"status": before},
        after={
            "status": order.status,
            "units_cancelled": len(cancellable),
            "points_refunded": points,
            "wholesale_refunded_minor": wholesale,
        },
    )
    record_event(
        session, "order.cancelled", {"order_id": order.id, "status": order.status}, partner.id
    )
    return order


def get_order(session: Session, partner_id: str, order_id: str) -> Order:
    return get_owned(session, Order, partner_id, Order.id == order_id, label="Order")


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
    if filters.get("status"):
        stmt = stmt.where(Order.status == filters["status"])
    if filters.get("created_from"):
        stmt = stmt.where(Order.created_at >= filters["created_from"])
    if filters.get("created_to"):
        stmt = stmt.where(Order.created_at < filters["created_to"])
    return paginate(session, stmt, Order.id, limit, cursor)

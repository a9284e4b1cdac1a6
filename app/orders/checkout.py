"""Checkout: placing an order, as a sequence of steps each owned by one domain.

LOCK ORDER. Every path that locks more than one of these rows takes them in this order, and
within a kind by id (or counter key), so two transactions never wait for each other in a circle:

    order → its deliveries → codes → member → points lots → quota counters (key order)
          → product capacity (product id order) → partner account

Placing an order follows it from codes on; refunds (`orders.service.refund_units`: cancels and
failed units) from the member on; points expiry takes member then lots. A new path that locks
these rows (marketing, the portal's after-sales) follows it too.

`place_order` runs in the caller's single transaction; any refusal raises before commit, so
nothing is half-written:

 1. resolve listings        partners   sellable to this partner, quantities within limits
 2. reserve stock           supply     card keys claimed as sold (SKIP LOCKED): stock first, so
                                       a flash sale's losers are refused after one UPDATE
 3. lock the member         members    blocked members refused
 4. quote                   pricing    list → tier → sale → adjusters; never the client's prices
 5. check payment           orders     the client pays exactly the quote
 6. assess risk             risk       deny refuses; review is recorded on the order
 7. status and events       state      order.created (+ order.fulfilled), audit row
 8. spend points            members    from the soonest-expiring lots, or deducted at the
                                       partner's own ledger (points source `external`)
 9. consume quotas          partners   counter upserts, in key order
10. reserve capacity        supply     conditional UPDATEs, direct recharge and links
11. write the order         orders     items, deliveries (fulfillment), card keys handed over
12. issue entitlements      entitlements  one per card-key unit
13. charge the partner      accounts   last: its row is the partner's hottest lock

Direct-recharge and link deliveries are enqueued only after the commit (the fulfillment engine
takes them from there); an idempotent request holds its key's advisory lock throughout. A
deduction at the partner's ledger is the one outside effect before the commit: when the order
does not commit, a job settles it (app/members/external.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction

from app.accounts.service import charge_order
from app.core.audit import Actor
from app.core.db import utcnow
from app.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from app.core.money import Money
from app.core.vault import Vault
from app.entitlements.service import issue
from app.fulfillment.models import Delivery
from app.fulfillment.service import create_deliveries, hand_over_code
from app.members import external as external_points
from app.members.errors import MemberBlocked
from app.members.models import Member
from app.members.service import find_member, member_phone, spend_points
from app.orders.models import Order, OrderItem
from app.orders.pricing import PriceAdjuster, PricingContext, Quote, QuoteLine, quote
from app.orders.risk import AllowAll, MemberContext, OrderDenied, OrderDraft, RiskCheck
from app.orders.state import transition
from app.partners import quotas
from app.partners.listings import sellable_listing
from app.partners.models import Listing, Partner
from app.supply.models import Code, Product
from app.supply.products import recharge_account_error
from app.supply.stock import allocate_codes, reserve_capacity
from app.supply.suppliers import code_provenance


class ListingNotFound(NotFound):
    code = "listing_not_found"


class PriceChanged(Conflict):
    code = "price_changed"


class PaymentMismatch(DomainError):
    code = "payment_mismatch"


class InvalidRechargeAccount(DomainError):
    code = "invalid_recharge_account"


class ClientReferenceUsed(Conflict):
    """`order_id` names the order that already holds the reference."""

    code = "client_reference_used"


# --- the command -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderLine:
    listing_id: str
    quantity: int
    recharge_account: str | None = None


@dataclass(frozen=True)
class Payment:
    """What the member pays: points, and a cash part the partner collected (`cash_payment_ref`)."""

    points: int = 0
    cash: Money | None = None
    cash_payment_ref: str | None = None


@dataclass(frozen=True)
class Total:
    """A total as the client computed it (`expected_total`)."""

    points: int = 0
    cash: Money | None = None


@dataclass(frozen=True)
class PlaceOrder:
    member_external_id: str
    lines: tuple[OrderLine, ...]
    payment: Payment
    expected_total: Total | None = None
    member_context: MemberContext = field(default_factory=MemberContext)
    client_reference: str | None = None  # the partner's own order number, unique per partner
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Policies:
    """The pluggable parts of checkout: price adjusters (marketing) and the risk check. The
    catalog prices with the same adjusters."""

    adjusters: tuple[PriceAdjuster, ...] = ()
    risk: RiskCheck = field(default_factory=AllowAll)


DEFAULT_POLICIES = Policies()


# --- the flow --------------------------------------------------------------------------------


def place_order(
    session: Session,
    actor: Actor,
    partner_id: str,
    command: PlaceOrder,
    *,
    now: datetime | None = None,
    vault: Vault | None = None,
    policies: Policies = DEFAULT_POLICIES,
) -> Order:
    """Create, charge and (for card keys) fulfil an order, or raise and change nothing.
    `vault` opens the member's phone for a direct recharge that names no account, and the
    secret of a partner's points service."""
    try:
        return _place_order(session, actor, partner_id, command, now or utcnow(), vault, policies)
    except BaseException:
        external_points.settle_later(session)  # a deduction sent for an order never written
        raise


def _place_order(
    session: Session,
    actor: Actor,
    partner_id: str,
    command: PlaceOrder,
    now: datetime,
    vault: Vault | None,
    policies: Policies,
) -> Order:
    reference, savepoint = command.client_reference, None
    if reference is not None:
        refuse_used_reference(session, partner_id, reference)
        savepoint = session.begin_nested()  # before any row is added (see claim_reference)
    # Nothing is flushed until every row is in place: then one flush writes them all, parents
    # first (the relationships order the tables), instead of one flush per query on the way.
    with session.no_autoflush:
        listings = resolve_listings(session, partner_id, command.lines)
        claimed = reserve_card_keys(session, partner_id, command.lines, listings)
        member = find_member(session, partner_id, command.member_external_id, for_update=True)
        if member.status != "active":
            raise MemberBlocked("This member is blocked and cannot order.")
        priced = quote(
            [
                (listing, line.quantity)
                for listing, line in zip(listings, command.lines, strict=True)
            ],
            PricingContext(partner_id, member.tier, now, member.id),
            policies.adjusters,
        )
        check_payment(priced, command.payment, command.expected_total)
        accounts = recharge_accounts(member, command.lines, listings, vault)
        decision = policies.risk.assess(
            OrderDraft(partner_id, member.id, member.external_id, priced, command.member_context)
        )
        if decision.outcome == "deny":
            raise OrderDenied("A risk rule refused this order.", reasons=list(decision.reasons))
        context = command.member_context
        order = Order(
            partner_id=partner_id,
            member_id=member.id,
            points_total=priced.points,
            cash_total_minor=priced.cash_minor,
            currency=priced.currency,
            wholesale_total_minor=priced.wholesale_minor,
            cash_payment_ref=command.payment.cash_payment_ref,
            member_ip=context.member_ip,
            device_id=context.device_id,
            member_since=context.member_since,
            client_reference=command.client_reference,
            extra=dict(command.metadata),
            deliveries=[],
            entitlements=[],
        )
        order.member = member
        # card keys are delivered in this transaction (or the whole order fails); anything else
        # waits for the fulfillment engine
        waiting = any(
            component.fulfillment_type != "card_key"
            for line in priced.lines
            for component, _ in units_of(line.listing.product)
        )
        transition(
            session,
            actor,
            order,
            "processing" if waiting else "fulfilled",
            audit={
                "points": priced.points,
                "cash_minor": priced.cash_minor,
                "wholesale_minor": priced.wholesale_minor,
                **(
                    {"risk": decision.outcome, "reasons": list(decision.reasons)}
                    if decision.outcome != "allow"
                    else {}
                ),
            },
        )
        if priced.points:
            pay_points(session, order, member, priced.points, vault, now)
        order.quota_usage = quotas.consume(
            session,
            quotas.limits_for(session, partner_id),
            member.id,
            {line.listing.id: line.quantity for line in priced.lines},
            priced.wholesale_minor,
            now,
            {line.listing.id: line.listing.member_monthly_units for line in priced.lines},
        )
        reserve_direct_capacity(session, priced)
        session.add(order)  # complete: inserted once, never updated in this transaction
        write_items(session, order, member, priced, accounts, claimed, now)
        # Everything is written before the partner account is locked: its row is shared by all of
        # the partner's orders and stays locked until the commit, so the lock is held for the
        # charge, its ledger entry, the answer's idempotency record and the commit only.
    if savepoint is None:
        session.flush()
    else:
        claim_reference(session, savepoint, partner_id, reference)
    if priced.wholesale_minor:
        charge_order(session, partner_id, priced.wholesale_minor, order.id)
    return order


def pay_points(
    session: Session, order: Order, member: Member, points: int, vault: Vault | None, now: datetime
) -> None:
    """Spend the member's points in our ledger, or deduct them at the partner's own."""
    if external_points.keeps_points(session, order.partner_id):
        if vault is None:
            raise external_points.PointsServiceUnavailable("No vault to reach the points service.")
        service = external_points.service_for(session.get_one(Partner, order.partner_id), vault)
        external_points.deduct_for_order(session, service, member, points, order.id, now)
        return
    spent = spend_points(session, member, points, f"order {order.id}", order.id, now=now)
    order.points_entry_id = spent.id


def refuse_used_reference(session: Session, partner_id: str, reference: str) -> None:
    existing = session.scalar(
        select(Order.id).where(Order.partner_id == partner_id, Order.client_reference == reference)
    )
    if existing is not None:
        raise ClientReferenceUsed(
            f"Order {existing} already has the client_reference {reference!r}.", order_id=existing
        )


def claim_reference(
    session: Session, savepoint: SessionTransaction, partner_id: str, reference: str | None
) -> None:
    """Flush the order inside the savepoint begun before its first row: when a concurrent order
    took the reference first, the unique key refuses this flush (PostgreSQL waits for that
    order to commit), the savepoint is rolled back, and the answer still names the order that
    holds the reference."""
    try:
        session.flush()
    except IntegrityError:
        savepoint.rollback()
        if reference is not None:
            refuse_used_reference(session, partner_id, reference)
        raise
    savepoint.commit()


def resolve_listings(
    session: Session, partner_id: str, lines: Sequence[OrderLine]
) -> list[Listing]:
    """The listing of each line, sellable to this partner, with a quantity it allows."""
    seen = Counter(line.listing_id for line in lines)
    listings = []
    for i, line in enumerate(lines):
        if seen[line.listing_id] > 1:
            raise ValidationFailed({f"items.{i}.listing": ["Listed twice; use quantity."]})
        try:
            listing = sellable_listing(session, partner_id, line.listing_id)
        except NotFound:
            raise ListingNotFound(
                f"No sellable listing {line.listing_id!r}.", field=f"items.{i}.listing"
            ) from None
        if not 1 <= line.quantity <= listing.max_per_order:
            raise ValidationFailed(
                {f"items.{i}.quantity": [f"Must be between 1 and {listing.max_per_order}."]}
            )
        listings.append(listing)
    return listings


def units_of(product: Product) -> list[tuple[Product, int]]:
    """(product, count) to deliver for one unit: the product itself, or a bundle's components."""
    if product.is_bundle:
        return [(c.component, c.quantity) for c in product.components]
    return [(product, 1)]


def reserve_card_keys(
    session: Session, partner_id: str, lines: Sequence[OrderLine], listings: list[Listing]
) -> dict[tuple[int, str], list[Code]]:
    """Claim every card key the order needs, as `sold`, per (line position, product), before
    the member is read: a sold-out order is refused first, and the claimed codes are out of
    everyone else's reach until this transaction ends. Raises OutOfStock."""
    claimed = {}
    for position, (line, listing) in enumerate(zip(lines, listings, strict=True)):
        for component, per_unit in units_of(listing.product):
            if component.fulfillment_type == "card_key":
                claimed[(position, component.id)] = allocate_codes(
                    session, component, partner_id, line.quantity * per_unit, status="sold"
                )
    return claimed


def check_payment(priced: Quote, payment: Payment, expected: Total | None) -> None:
    """The client pays exactly the quote, in its currency; `expected` guards against a price
    that changed since the client last read it."""
    total = priced.total()
    cash, currency = priced.cash_minor, priced.currency
    if expected is not None and (
        expected.points != priced.points or (expected.cash.amount if expected.cash else 0) != cash
    ):
        raise PriceChanged("The total changed since the client computed it.", current_total=total)
    if payment.cash is not None and payment.cash.currency != currency:
        raise PaymentMismatch(f"Pay the cash part in {currency}.", current_total=total)
    if payment.points != priced.points or (payment.cash.amount if payment.cash else 0) != cash:
        raise PaymentMismatch("Pay exactly the order total.", current_total=total)
    if cash and not payment.cash_payment_ref:
        raise PaymentMismatch(
            "A cash part needs the partner's cash_payment_ref.", current_total=total
        )


def recharge_accounts(
    member: Member, lines: Sequence[OrderLine], listings: list[Listing], vault: Vault | None
) -> list[str | None]:
    """Per line, the account a direct recharge goes to: the line's own, or the member's phone
    (opened from the vault) when the product recharges a phone and the line names none."""
    accounts: list[str | None] = []
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
        accounts.append(account)
    return accounts


def reserve_direct_capacity(session: Session, priced: Quote) -> None:
    """Direct-recharge and link capacity for every unit, in product id order (the lock order)."""
    capacity: Counter[str] = Counter()
    products: dict[str, Product] = {}
    for line in priced.lines:
        for component, per_unit in units_of(line.listing.product):
            if component.fulfillment_type != "card_key":
                capacity[component.id] += line.quantity * per_unit
                products[component.id] = component
    for product_id in sorted(capacity):
        reserve_capacity(session, products[product_id], capacity[product_id])


def write_items(
    session: Session,
    order: Order,
    member: Member,
    priced: Quote,
    accounts: list[str | None],
    claimed: dict[tuple[int, str], list[Code]],
    now: datetime,
) -> None:
    """The order's items and their deliveries; card keys handed over and their entitlements
    issued now. Added, not flushed: the caller's flush writes them parents first."""
    for position, (line, account) in enumerate(zip(priced.lines, accounts, strict=True)):
        order.items.append(
            OrderItem(
                partner_id=order.partner_id,
                order_id=order.id,
                position=position,
                listing_id=line.listing.id,
                product_id=line.listing.product_id,
                quantity=line.quantity,
                recharge_account=account,
                unit_points=line.unit.points,
                unit_cash_minor=line.unit.cash_minor,
                unit_wholesale_minor=line.listing.wholesale_minor,
                snapshot=item_snapshot(line),
            )
        )
    provenance = code_provenance(session, [code.id for codes in claimed.values() for code in codes])
    handed_over: list[tuple[Delivery, Code, Product, str | None]] = []
    for position, (line, item) in enumerate(zip(priced.lines, order.items, strict=True)):
        bundle = line.listing.product.name if line.listing.product.is_bundle else None
        for component, per_unit in units_of(line.listing.product):
            deliveries = create_deliveries(
                session,
                order.partner_id,
                order.id,
                item.id,
                component,
                line.quantity,
                per_unit,
                item.recharge_account,
            )
            order.deliveries.extend(deliveries)
            if component.fulfillment_type == "card_key":
                codes = claimed[(position, component.id)]
                for delivery, code in zip(deliveries, codes, strict=True):
                    hand_over_code(delivery, code, now)
                    handed_over.append((delivery, code, component, bundle))
    for delivery, code, component, bundle in handed_over:
        entitlement = issue(
            session,
            member,
            order.id,
            delivery.id,
            component,
            now,
            provenance={**provenance.get(code.id, {}), "supplier_order_no": None},
            code=code,
            bundle=bundle,
        )
        order.entitlements.append(entitlement)


def item_snapshot(line: QuoteLine) -> dict[str, Any]:
    """What was sold, as it was: past orders read the same after a product changes."""
    listing, unit = line.listing, line.unit
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

"""Card-key stock, channel allocations and direct-recharge capacity; `allocate_codes`, the one
way a card key leaves the pool."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, func, literal, or_, select, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from app.core.audit import Actor, record_audit
from app.core.db import UTCDateTime, get_or_404, inline_count, utcnow
from app.core.errors import NotFound, ValidationFailed
from app.core.tenancy import partner_exists, partner_region
from app.supply.errors import OutOfStock, SupplyConflict
from app.supply.models import (
    Allocation,
    Authorization,
    Code,
    CodeBatch,
    Product,
)
from app.supply.suppliers import GLOBAL_REGION
from app.webhooks.outbox import record_event

# --- stock and channel allocations ----------------------------------------------------


def _available(
    product_id: str | BindParameter[str], now: datetime | BindParameter[datetime]
) -> Any:
    return select(Code).where(
        Code.product_id == product_id,
        Code.status == "available",
        or_(Code.expires_at.is_(None), Code.expires_at > now),
    )


def _count(session: Session, stmt: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(stmt.subquery())) or 0)


# Built once (every order runs it): statement construction costs more than execution.
_ACTIVE_ALLOCATION = select(Allocation).where(
    Allocation.product_id == bindparam("product_id"),
    Allocation.partner_id == bindparam("partner_id"),
    Allocation.status == "active",
)


def active_allocation(session: Session, product_id: str, partner_id: str) -> Allocation | None:
    return session.scalars(
        _ACTIVE_ALLOCATION, {"product_id": product_id, "partner_id": partner_id}
    ).first()


AVAILABLE_CAP = 1000  # availability reads exact below this, and this at or above it


@dataclass(frozen=True)
class Pools:
    """Where a partner's card keys of one product come from, in order: its allocation, then
    the shared pool unless the allocation is exclusive. The allocation and the catalog's
    availability counts read them alike. Two values, not the Allocation: an order reads them
    as columns with its listing."""

    allocation_id: str | None = None
    is_exclusive: bool = False
    # the partner's region: only codes bought under an authorization serving it (None: any)
    region: str | None = None

    @classmethod
    def of(cls, allocation: Allocation | None, region: str | None = None) -> Pools:
        if allocation is None:
            return cls(region=region)
        return cls(allocation.id, allocation.is_exclusive, region)

    @property
    def ids(self) -> list[str | None]:
        """Allocation ids to draw from; None is the shared pool."""
        own: list[str | None] = [self.allocation_id] if self.allocation_id else []
        return own + ([] if self.is_exclusive else [None])


def _serves_region(region: str | BindParameter[str]) -> Any:
    """Codes whose batch was bought under an authorization serving `region` (or under none
    recorded: batches imported before authorizations were kept with them)."""
    return Code.batch_id.in_(
        select(CodeBatch.id)
        .outerjoin(Authorization, Authorization.id == CodeBatch.authorization_id)
        .where(
            or_(
                CodeBatch.authorization_id.is_(None),
                Authorization.region.in_([region, GLOBAL_REGION]),
            )
        )
    )


def _in_pool(allocation_id: str | None) -> Any:
    return Code.allocation_id == allocation_id if allocation_id else Code.allocation_id.is_(None)


def availability(
    session: Session, products: Sequence[Product], partner_id: str
) -> dict[str, int | None]:
    """Units this partner can buy now, per product id (None: unlimited), in two queries for
    any number of products: the partner's allocations, then code counts by pool. Each count
    stops at AVAILABLE_CAP (an index range of at most that many rows), so a catalog page costs
    the same with a thousand codes in stock or millions. A bundle is limited by its scarcest
    component."""
    card_keys = {p.id for p in products if p.fulfillment_type == "card_key" and not p.is_bundle}
    card_keys |= {
        c.component_id
        for p in products
        if p.is_bundle
        for c in p.components
        if c.component.fulfillment_type == "card_key"
    }
    counts: dict[tuple[str, str | None], int] = {}
    pools: dict[str, Pools] = {}
    if card_keys:
        allocations = session.scalars(
            select(Allocation).where(
                Allocation.product_id.in_(card_keys),
                Allocation.partner_id == partner_id,
                Allocation.status == "active",
            )
        ).all()
        own = {a.product_id: a for a in allocations}
        region = partner_region(session, partner_id)
        pools = {pid: Pools.of(own.get(pid), region) for pid in card_keys}
        now = utcnow()
        bounded = [
            select(
                literal(pid).label("product_id"),
                literal(aid, String).label("allocation_id"),
                select(func.count())
                .select_from(
                    _available(pid, now)
                    .where(_in_pool(aid), *([_serves_region(region)] if region else []))
                    .with_only_columns(Code.id)
                    .limit(inline_count(AVAILABLE_CAP))
                    .subquery()
                )
                .scalar_subquery()
                .label("n"),
            )
            for pid, pool in pools.items()
            for aid in pool.ids
        ]
        rows = session.execute(union_all(*bounded)).all()
        counts = {(pid, aid): int(n) for pid, aid, n in rows}

    def units(product: Product) -> int | None:
        if product.id in pools:  # every card key is
            return sum(counts.get((product.id, aid), 0) for aid in pools[product.id].ids)
        return product.stock_capacity

    out: dict[str, int | None] = {}
    for product in products:
        if product.is_bundle:
            limited = [
                n // c.quantity for c in product.components if (n := units(c.component)) is not None
            ]
            out[product.id] = min(limited) if limited else None
        else:
            out[product.id] = units(product)
    return out


def available_for_partner(session: Session, product: Product, partner_id: str) -> int | None:
    return availability(session, [product], partner_id)[product.id]


def stock_summary(session: Session, product: Product) -> dict[str, Any]:
    now = utcnow()
    if product.fulfillment_type != "card_key" or product.is_bundle:
        return {
            "product_id": product.id,
            "unlimited": product.stock_capacity is None and not product.is_bundle,
            "available": product.stock_capacity,
            "shared": product.stock_capacity,
            "allocations": [],
        }
    allocations = session.scalars(
        select(Allocation).where(Allocation.product_id == product.id, Allocation.status == "active")
    ).all()
    per_allocation: list[dict[str, Any]] = [
        {
            "allocation_id": a.id,
            "partner_id": a.partner_id,
            "is_exclusive": a.is_exclusive,
            "available": _count(
                session, _available(product.id, now).where(Code.allocation_id == a.id)
            ),
        }
        for a in allocations
    ]
    shared = _count(session, _available(product.id, now).where(Code.allocation_id.is_(None)))
    return {
        "product_id": product.id,
        "unlimited": False,
        "available": shared + sum(a["available"] for a in per_allocation),
        "shared": shared,
        "allocations": per_allocation,
    }


@functools.cache
def _claim_statement(shared: bool, fields: tuple[str, ...], regional: bool) -> Any:
    """UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING, built once per shape
    (every order runs one): its construction costs more than its execution."""
    in_pool = (
        Code.allocation_id.is_(None)
        if shared
        else Code.allocation_id == bindparam("claim_allocation_id")
    )
    pick = (
        _available(
            bindparam("claim_product_id", type_=String), bindparam("claim_now", type_=UTCDateTime())
        )
        .where(in_pool)
        .where(*([_serves_region(bindparam("claim_region", type_=String))] if regional else []))
        .with_only_columns(Code.id)
        .order_by(Code.expires_at.asc().nulls_last(), Code.id)
        .limit(inline_count(name="claim_limit"))
        .with_for_update(skip_locked=True)
    )
    changes: dict[str, Any] = {field: bindparam(f"claim_set_{field}") for field in fields}
    # read as a SELECT of its RETURNING rows: the ORM's bulk-UPDATE path (session
    # synchronization, a statement rebuilt per call) cost a third more for the same SQL
    return select(Code).from_statement(
        update(Code).where(Code.id.in_(pick)).values(changes).returning(Code)
    )


def _claim(
    session: Session,
    product_id: str,
    allocation_id: str | None,
    quantity: int,
    now: datetime,
    changes: dict[str, Any],
    region: str | None = None,
) -> list[Code]:
    """Claim up to `quantity` available codes of one pool (and, with `region`, bought under an
    authorization serving it), soonest-expiring first, applying `changes`, in one statement.
    SKIP LOCKED: concurrent callers take disjoint rows instead of queueing behind each other.
    A caller refusing a short claim raises, and its transaction is rolled back."""
    params = {
        "claim_region": region,
        "claim_product_id": product_id,
        "claim_allocation_id": allocation_id,
        "claim_now": now,
        "claim_limit": quantity,
        **{f"claim_set_{field}": value for field, value in changes.items()},
    }
    claimed = session.scalars(
        _claim_statement(allocation_id is None, tuple(changes), region is not None),
        params,
        execution_options={"populate_existing": True},
    ).all()
    # RETURNING keeps no order: hand them out soonest-expiring first, as picked
    return sorted(claimed, key=lambda c: (c.expires_at is None, c.expires_at or now, c.id))


def allocate_codes(
    session: Session,
    product: Product,
    partner_id: str,
    quantity: int,
    status: str = "reserved",
    pools: Pools | None = None,
) -> list[Code]:
    """Claim exactly `quantity` codes of `product` for `partner_id`, or raise OutOfStock (and
    the caller's transaction, which may hold part of a claim, is rolled back).

    Never hands one code to two callers: on PostgreSQL rows are claimed with `FOR UPDATE SKIP
    LOCKED` inside the caller's transaction; on SQLite every write transaction is serialized (BEGIN
    IMMEDIATE). The partner's pools are drawn in order (`Pools`); codes held for other partners are
    never taken, nor expired or voided ones. The codes come back in `status`: `reserved`, or `sold`
    when the caller delivers them in the same transaction. `pools`: the partner's pools of
    `product` when the caller has already read them (in this transaction)."""
    if quantity < 1:
        raise ValueError("quantity must be positive")
    now = utcnow()
    if pools is None:
        pools = Pools.of(
            active_allocation(session, product.id, partner_id), partner_region(session, partner_id)
        )
    changes = {"status": status, "reserved_at": now, "reserved_for_partner_id": partner_id}
    picked: list[Code] = []
    for allocation_id in pools.ids:
        picked += _claim(
            session, product.id, allocation_id, quantity - len(picked), now, changes, pools.region
        )
        if len(picked) == quantity:
            break
    if len(picked) < quantity:
        raise OutOfStock(f"Only {len(picked)} of {quantity} unit(s) are available.")
    check_low_stock(session, product)
    return picked


def reserve_capacity(session: Session, product: Product, quantity: int) -> None:
    """Take `quantity` units of a direct-recharge or link product's capacity (None: unlimited),
    atomically: a conditional UPDATE, so racing orders can never take more than there is."""
    if product.stock_capacity is None:
        return
    taken = session.execute(
        update(Product)
        .where(Product.id == product.id, Product.stock_capacity >= quantity)
        .values(stock_capacity=Product.stock_capacity - quantity)
        .returning(Product.stock_capacity)
        .execution_options(synchronize_session=False)
    ).first()
    if taken is None:
        raise OutOfStock(f"Fewer than {quantity} unit(s) of capacity are left.")
    product.stock_capacity = taken.stock_capacity
    session.flush()
    check_low_stock(session, product)


def release_capacity(session: Session, product_id: str, quantity: int) -> None:
    """Give back capacity of cancelled units (unlimited products have nothing to return)."""
    session.execute(
        update(Product)
        .where(Product.id == product_id, Product.stock_capacity.is_not(None))
        .values(stock_capacity=Product.stock_capacity + quantity)
        .execution_options(synchronize_session=False)
    )


def check_low_stock(session: Session, product: Product) -> None:
    """Emit `stock.low` once per crossing below the threshold; re-arm when stock recovers.
    The count is bounded (threshold + 1 rows) and the flag flips by a conditional UPDATE, so
    concurrent orders emit it once and do not contend on the product row in between."""
    threshold = product.low_stock_threshold
    if threshold is None or product.is_bundle:
        return
    if product.fulfillment_type == "card_key":
        available = _count(
            session,
            _available(product.id, utcnow())
            .with_only_columns(Code.id)
            .limit(inline_count(threshold + 1)),
        )
    elif product.stock_capacity is None:
        return
    else:
        available = product.stock_capacity
    low = available <= threshold
    flipped = session.execute(
        update(Product)
        .where(Product.id == product.id, Product.is_low_stock.is_(not low))
        .values(is_low_stock=low)
        .execution_options(synchronize_session=False)
    )
    if low and getattr(flipped, "rowcount", None):
        record_event(
            session,
            "stock.low",
            {"product_id": product.id, "available": available, "threshold": threshold},
        )


def create_allocation(
    session: Session,
    actor: Actor,
    product: Product,
    partner_id: str,
    quantity: int,
    is_exclusive: bool,
) -> Allocation:
    """Carve `quantity` codes out of the shared pool for one partner."""
    if not partner_exists(session, partner_id):
        raise NotFound("Partner not found.")
    if product.fulfillment_type != "card_key" or product.is_bundle:
        raise ValidationFailed({"product": ["Channel allocations hold card keys only."]})
    allocation = Allocation(
        product_id=product.id, partner_id=partner_id, quantity=quantity, is_exclusive=is_exclusive
    )
    try:  # the unique index refuses a second active one, even one created at the same moment
        with session.begin_nested():
            session.add(allocation)
    except IntegrityError:
        raise SupplyConflict(
            "This partner already has an allocation of this product; release it first."
        ) from None
    codes = _claim(
        session,
        product.id,
        None,
        quantity,
        utcnow(),
        {"allocation_id": allocation.id},
        partner_region(session, partner_id),
    )
    if len(codes) < quantity:
        raise OutOfStock(f"Only {len(codes)} shared unit(s) are available to allocate.")
    record_audit(
        session,
        actor,
        "allocation.created",
        "allocation",
        allocation.id,
        partner_id=partner_id,
        after=allocation.snapshot(),
    )
    return allocation


def release_allocation(session: Session, actor: Actor, allocation: Allocation) -> Allocation:
    """Return the allocation's unsold codes to the shared pool."""
    if allocation.status != "active":
        return allocation
    session.execute(
        update(Code)
        .where(Code.allocation_id == allocation.id, Code.status == "available")
        .values(allocation_id=None)
        .execution_options(synchronize_session=False)
    )
    before = allocation.snapshot()
    allocation.status, allocation.released_at = "released", utcnow()
    record_audit(
        session,
        actor,
        "allocation.released",
        "allocation",
        allocation.id,
        partner_id=allocation.partner_id,
        before=before,
        after=allocation.snapshot(),
    )
    return allocation


def get_allocation(session: Session, allocation_id: str) -> Allocation:
    return get_or_404(session, Allocation, allocation_id, "Allocation")


def partner_allocations(session: Session, partner_id: str) -> list[tuple[Allocation, int]]:
    """A partner's active allocations, each with its codes still unsold."""
    allocations = list(
        session.scalars(
            select(Allocation)
            .where(Allocation.partner_id == partner_id, Allocation.status == "active")
            .order_by(Allocation.id)
        )
    )
    counts = session.execute(
        select(Code.allocation_id, func.count())
        .where(Code.allocation_id.in_([a.id for a in allocations]), Code.status == "available")
        .group_by(Code.allocation_id)
    )
    unsold = {allocation_id: count for allocation_id, count in counts}
    return [(allocation, unsold.get(allocation.id, 0)) for allocation in allocations]


def list_allocations(session: Session, product_id: str) -> list[Allocation]:
    return list(
        session.scalars(
            select(Allocation).where(Allocation.product_id == product_id).order_by(Allocation.id)
        )
    )

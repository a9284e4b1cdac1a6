"""Listings (the platform sets them, the partner reads them) and member-facing pricing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import Session

from app.core.audit import Actor, record_audit, record_changes
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.money import Money
from app.core.pagination import Page, paginate
from app.core.tenancy import get_owned, scoped
from app.partners.models import Listing, Partner
from app.supply.models import Allocation, Product
from app.supply.service import Pools, get_product

LISTING_FIELDS = (
    "price_points",
    "price_cash_minor",
    "wholesale_minor",
    "tier_prices",
    "sale_points",
    "sale_cash_minor",
    "sale_starts_at",
    "sale_ends_at",
    "max_per_order",
    "is_visible",
    "sort_order",
)


@dataclass(frozen=True)
class Price:
    """What a member pays for one unit: points and/or cash (minor units)."""

    points: int
    cash_minor: int
    currency: str = "CNY"
    source: str = "list"  # list | tier | sale

    def times(self, quantity: int) -> Price:
        return Price(self.points * quantity, self.cash_minor * quantity, self.currency, self.source)


def member_price(listing: Listing, tier: str | None, now: datetime | None = None) -> Price:
    """Sale price while its window is open, else the member's tier price, else the list price."""
    now = now or utcnow()
    on_sale = (
        (listing.sale_points is not None or listing.sale_cash_minor is not None)
        and (listing.sale_starts_at is None or listing.sale_starts_at <= now)
        and (listing.sale_ends_at is None or now < listing.sale_ends_at)
    )
    if on_sale:
        return Price(
            listing.sale_points or 0, listing.sale_cash_minor or 0, listing.currency, "sale"
        )
    tier_price = (listing.tier_prices or {}).get(tier or "")
    if tier_price:
        return Price(
            int(tier_price.get("points", 0)),
            int(tier_price.get("cash", 0)),
            listing.currency,
            "tier",
        )
    return Price(listing.price_points, listing.price_cash_minor, listing.currency, "list")


def _apply(listing: Listing, data: dict[str, Any]) -> None:
    for key in LISTING_FIELDS:
        if key in data:
            setattr(listing, key, data[key])
    if listing.price_points == 0 and listing.price_cash_minor == 0:
        raise ValidationFailed({"price": ["A listing needs a points price, a cash price or both."]})
    # a sale or tier price replaces the list price: it may not make the listing free either
    has_sale = listing.sale_points is not None or listing.sale_cash_minor is not None
    if has_sale and not (listing.sale_points or listing.sale_cash_minor):
        raise ValidationFailed({"sale_points": ["A sale price of 0 points and 0 cash is free."]})
    for tier, price in (listing.tier_prices or {}).items():
        if not (int(price.get("points", 0)) or int(price.get("cash", 0))):
            raise ValidationFailed(
                {f"tier_prices.{tier}": ["A tier price of 0 points and 0 cash is free."]}
            )
    if (
        listing.sale_starts_at
        and listing.sale_ends_at
        and listing.sale_ends_at <= listing.sale_starts_at
    ):
        raise ValidationFailed({"sale_ends_at": ["Must be after sale_starts_at."]})


def create_listing(
    session: Session, actor: Actor, partner_id: str, data: dict[str, Any]
) -> Listing:
    product = get_product(session, data["product_id"])
    existing = session.scalars(
        scoped(Listing, partner_id).where(Listing.product_id == product.id)
    ).first()
    if existing is not None:
        raise Conflict("This partner already lists this product.", listing_id=existing.id)
    listing = Listing(
        partner_id=partner_id, product_id=product.id, currency=product.currency, tier_prices={}
    )
    _apply(listing, data)
    session.add(listing)
    session.flush()
    record_audit(
        session,
        actor,
        "listing.created",
        "listing",
        listing.id,
        partner_id=partner_id,
        after=listing.snapshot(),
    )
    return listing


def update_listing(
    session: Session, actor: Actor, listing: Listing, data: dict[str, Any]
) -> list[str]:
    before = listing.snapshot()
    _apply(listing, data)
    after = listing.snapshot()
    changed = record_changes(
        session,
        actor,
        "listing.updated",
        "listing",
        listing.id,
        before,
        after,
        partner_id=listing.partner_id,
    )
    return changed


def get_listing(
    session: Session, partner_id: str, listing_id: str, *, sellable_only: bool = False
) -> Listing:
    if sellable_only:
        return sellable_listing(session, partner_id, listing_id)[0]
    return get_owned(session, Listing, partner_id, Listing.id == listing_id, label="Listing")


def sellable_listing(session: Session, partner_id: str, listing_id: str) -> tuple[Listing, Pools]:
    """A listing the partner can sell, with the pools its card keys come from, in one read:
    an order asks both first (every flash-sale loser too), so the partner's allocation of the
    product is joined instead of read on its own. Raises NotFound."""
    row = session.execute(
        _SELLABLE_LISTING, {"partner_id": partner_id, "listing_id": listing_id}
    ).first()
    if row is None:
        raise NotFound("Listing not found.")
    listing, allocation_id, is_exclusive, region = row
    return listing, Pools(allocation_id, bool(is_exclusive), region)


def _sellable() -> list[Any]:
    """A partner sees a listing only while it is visible and its product sellable."""
    return [
        Listing.is_visible.is_(True),
        Listing.product_id.in_(
            select(Product.id).where(Product.status == "active", Product.is_authorized.is_(True))
        ),
    ]


# Built once (every order runs it): statement construction costs more than execution.
_SELLABLE_LISTING = (
    select(Listing, Allocation.id, Allocation.is_exclusive, Partner.region)
    .join(Partner, Partner.id == Listing.partner_id)
    .outerjoin(
        Allocation,
        and_(
            Allocation.product_id == Listing.product_id,
            Allocation.partner_id == Listing.partner_id,
            Allocation.status == "active",
        ),
    )
    .where(
        Listing.partner_id == bindparam("partner_id"),
        Listing.id == bindparam("listing_id"),
        *_sellable(),
    )
)


def list_listings(
    session: Session, partner_id: str, limit: int, cursor: str | None
) -> Page[Listing]:
    return paginate(session, scoped(Listing, partner_id), Listing.id, limit, cursor)


def catalog(
    session: Session, partner_id: str, limit: int, cursor: str | None, filters: dict[str, Any]
) -> Page[Listing]:
    """The partner's sellable listings, filtered by product attributes (in_stock is applied by
    the caller, which knows the partner's availability)."""
    stmt = (
        scoped(Listing, partner_id)
        .where(*_sellable())
        .join(Product, Product.id == Listing.product_id)
    )
    for name in ("category", "brand", "fulfillment_type"):
        if filters.get(name):
            stmt = stmt.where(getattr(Product, name) == filters[name])
    if filters.get("q"):
        pattern = f"%{filters['q'].lower()}%"
        stmt = stmt.where(
            or_(func.lower(Product.name).like(pattern), func.lower(Product.brand).like(pattern))
        )
    return paginate(session, stmt, Listing.id, limit, cursor)


def find_listing_by_product(session: Session, partner_id: str, product_id: str) -> Listing:
    listing = session.scalars(
        scoped(Listing, partner_id).where(Listing.product_id == product_id)
    ).first()
    if listing is None:
        raise NotFound("Listing not found.")
    return listing


def catalog_entries(
    session: Session,
    listings: list[Listing],
    tier: str | None,
    now: datetime,
    in_stock: bool | None = None,
) -> list[dict[str, Any]]:
    """What a partner (and its member) sees of listings: price for that member, availability
    for this partner (its allocation + the shared pool; one lookup for the whole page), the
    product as it is now. `in_stock` keeps only the entries that are (or are not) in stock."""
    from app.supply.service import availability

    if not listings:
        return []
    counts = availability(session, [li.product for li in listings], listings[0].partner_id)
    entries = [_entry(listing, tier, now, counts[listing.product_id]) for listing in listings]
    return [e for e in entries if in_stock is None or e["in_stock"] == in_stock]


def _entry(
    listing: Listing, tier: str | None, now: datetime, available: int | None
) -> dict[str, Any]:
    product = listing.product
    price = member_price(listing, tier, now)
    return {
        "id": listing.id,
        "product_id": product.id,
        "name": product.name,
        "brand": product.brand,
        "category": product.category,
        "fulfillment_type": product.fulfillment_type,
        "recharge_account_kind": product.recharge_account_kind,
        "face_value": product.face_value,
        "validity_days": product.validity_days,
        "description": product.description,
        "image_url": product.image_url,
        "is_bundle": product.is_bundle,
        "price": {
            "points": price.points,
            "cash": Money(price.cash_minor, price.currency),
            "source": price.source,
        },
        "wholesale_price": Money(listing.wholesale_minor, listing.currency),
        "max_per_order": listing.max_per_order,
        "available": available,
        "in_stock": available is None or available > 0,
    }

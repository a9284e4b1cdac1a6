"""Listings (the platform sets them, the partner reads them) and member-facing pricing."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, inspect, or_, select
from sqlalchemy.orm import Session

from app.core.audit import Actor, record_audit, record_changes
from app.core.commands import Changes
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.pagination import Page, SortKey, paginate
from app.core.tenancy import get_owned, scoped
from app.partners.models import Listing, Partner
from app.supply.models import Product
from app.supply.products import get_product


@dataclass(frozen=True)
class ListingTerms(Changes):
    """What a listing sells its product for, and how. On an update only the fields named in
    `given` change; a new listing takes the defaults for the rest."""

    price_points: int = 0
    price_cash_minor: int = 0
    wholesale_minor: int = 0
    tier_prices: dict[str, dict[str, int]] = field(default_factory=dict)
    sale_points: int | None = None
    sale_cash_minor: int | None = None
    sale_starts_at: datetime | None = None
    sale_ends_at: datetime | None = None
    max_per_order: int = 5
    member_monthly_units: int | None = None
    is_visible: bool = True
    sort_order: int = 100


def _apply(listing: Listing, terms: ListingTerms) -> None:
    for key, value in terms.named().items():
        setattr(listing, key, value)
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
    session: Session, actor: Actor, partner_id: str, product_id: str, terms: ListingTerms
) -> Listing:
    product = get_product(session, product_id)
    sandbox = session.scalar(select(Partner.sandbox_of_id).where(Partner.id == partner_id))
    if product.is_sandbox != (sandbox is not None):
        raise ValidationFailed(
            {"product_id": ["A sandbox partner lists sandbox products only; a live one, live."]}
        )
    existing = session.scalars(
        scoped(Listing, partner_id).where(Listing.product_id == product.id)
    ).first()
    if existing is not None:
        raise Conflict("This partner already lists this product.", listing_id=existing.id)
    listing = Listing(partner_id=partner_id, product_id=product.id, currency=product.currency)
    _apply(listing, terms.as_new())
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


def price_floor_minor(partner: Partner, listing: Listing) -> int:
    """The least a member price of this listing may be worth when partner staff set it."""
    return -(-listing.wholesale_minor * partner.price_floor_bp // 10_000)


def _check_floor(partner: Partner, listing: Listing) -> None:
    """Every member price of the listing — list, each tier, the sale — is worth at least the
    floor: points at the partner's rate, plus cash (compared exactly, in integers)."""
    stages = {
        "price_points": (listing.price_points, listing.price_cash_minor),
        **{
            f"tier_prices.{tier}": (int(p.get("points", 0)), int(p.get("cash", 0)))
            for tier, p in (listing.tier_prices or {}).items()
        },
    }
    if listing.sale_points is not None or listing.sale_cash_minor is not None:
        stages["sale_points"] = (listing.sale_points or 0, listing.sale_cash_minor or 0)
    rate_points, rate_value = partner.points_rate_points, partner.points_rate_value_minor
    floor = price_floor_minor(partner, listing)
    low = {
        field: [f"Worth less than the floor of {floor} fen (wholesale {listing.wholesale_minor})."]
        for field, (points, cash) in stages.items()
        if (points * rate_value + cash * rate_points) * 10_000
        < listing.wholesale_minor * partner.price_floor_bp * rate_points
    }
    if low:
        raise ValidationFailed(low)


def _change(listing: Listing, terms: ListingTerms, bounded_by: Partner | None) -> None:
    if bounded_by is not None and "wholesale_minor" in terms.given:
        raise ValidationFailed({"wholesale_minor": ["The platform sets the wholesale price."]})
    _apply(listing, terms)
    if bounded_by is not None:
        _check_floor(bounded_by, listing)


def draft_listing(listing: Listing, terms: ListingTerms, bounded_by: Partner) -> Listing:
    """The listing as `terms` would change it, checked as an update would be but never saved
    (not in the session): what the portal's price preview shows before staff commit."""
    values = {
        attr.key: copy.deepcopy(getattr(listing, attr.key))
        for attr in inspect(Listing).column_attrs
    }
    draft = Listing(**values)
    _change(draft, terms, bounded_by)
    return draft


def update_listing(
    session: Session,
    actor: Actor,
    listing: Listing,
    terms: ListingTerms,
    bounded_by: Partner | None = None,
) -> list[str]:
    """Change a listing. `bounded_by` (the listing's partner) applies the platform's bounds on
    what partner staff set: the wholesale price is the platform's, member prices keep above
    the partner's price floor."""
    before = listing.snapshot()
    _change(listing, terms, bounded_by)
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
        return sellable_listing(session, partner_id, listing_id)
    return get_owned(session, Listing, partner_id, Listing.id == listing_id, label="Listing")


def sellable_listing(session: Session, partner_id: str, listing_id: str) -> Listing:
    """A listing the partner can sell now. Raises NotFound."""
    listing = session.scalars(
        scoped(Listing, partner_id).where(Listing.id == listing_id, *_sellable())
    ).first()
    if listing is None:
        raise NotFound("Listing not found.")
    return listing


def _sellable() -> list[Any]:
    """A partner sees a listing only while it is visible and its product sellable."""
    return [
        Listing.is_visible.is_(True),
        Listing.product_id.in_(
            select(Product.id).where(Product.status == "active", Product.is_authorized.is_(True))
        ),
    ]


# the order members see listings in: by position (then newest first)
BY_POSITION = SortKey(Listing.sort_order, lambda li: li.sort_order)


def list_listings(
    session: Session,
    partner_id: str,
    limit: int,
    cursor: str | None,
    sort: SortKey | None = None,
) -> Page[Listing]:
    """All the partner's listings, hidden ones too (newest first, or by `sort`)."""
    return paginate(session, scoped(Listing, partner_id), Listing.id, limit, cursor, sort)


# how the catalog may be ordered (`newest`, the default, is id order, newest first)
CATALOG_SORTS: dict[str, SortKey | None] = {
    "newest": None,
    "position": BY_POSITION,  # as the partner arranged its listings
    "price_asc": SortKey(Listing.price_points, lambda li: li.price_points),
    "price_desc": SortKey(Listing.price_points, lambda li: li.price_points, descending=True),
    "name": SortKey(Product.name, lambda li: li.product.name),
}
# what the catalog can be browsed by: a facet → the product column it counts
CATALOG_FACETS = {"categories": Product.category, "brands": Product.brand}


def catalog(
    session: Session, partner_id: str, limit: int, cursor: str | None, filters: dict[str, Any]
) -> Page[Listing]:
    """The partner's sellable listings, filtered by product attributes (in_stock is applied by
    the caller, which knows the partner's availability), in the order `filters["sort"]` names
    (list price in points, or product name)."""
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
    sort = CATALOG_SORTS[filters.get("sort") or "newest"]
    return paginate(session, stmt, Listing.id, limit, cursor, sort)


def catalog_facet(session: Session, partner_id: str, facet: str) -> list[tuple[str, int]]:
    """(value, sellable listings) of one facet of the partner's catalog, by value."""
    column = CATALOG_FACETS[facet]
    rows = session.execute(
        select(column, func.count(Listing.id))
        .select_from(Listing)
        .join(Product, Product.id == Listing.product_id)
        .where(Listing.partner_id == partner_id, *_sellable())
        .group_by(column)
        .order_by(column)
    )
    return [(value, count) for value, count in rows]


def listing_names(
    session: Session, partner_id: str, listing_ids: list[str]
) -> list[tuple[str, str]]:
    """(listing id, product name) of some of the partner's listings."""
    rows = session.execute(
        select(Listing.id, Product.name)
        .join(Product, Product.id == Listing.product_id)
        .where(Listing.partner_id == partner_id, Listing.id.in_(listing_ids))
    )
    return [(listing_id, name) for listing_id, name in rows]


def find_listing_by_product(session: Session, partner_id: str, product_id: str) -> Listing:
    listing = session.scalars(
        scoped(Listing, partner_id).where(Listing.product_id == product_id)
    ).first()
    if listing is None:
        raise NotFound("Listing not found.")
    return listing

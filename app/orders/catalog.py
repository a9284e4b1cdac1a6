"""The catalog as a member (or the partner) sees it: listings priced by the checkout pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from app.core.money import Money
from app.orders.pricing import PriceAdjuster, PricingContext, quote
from app.partners.models import Listing
from app.supply.stock import availability


def catalog_entries(
    session: Session,
    listings: list[Listing],
    context: PricingContext,
    adjusters: Sequence[PriceAdjuster] = (),
    in_stock: bool | None = None,
) -> list[dict[str, Any]]:
    """What a partner (and its member) sees of listings: one unit quoted exactly as checkout
    quotes it, availability for this partner (its allocation + the shared pool; one lookup for
    the whole page), the product as it is now. `in_stock` keeps only the entries that are (or
    are not) in stock."""
    if not listings:
        return []
    counts = availability(session, [li.product for li in listings], context.partner_id)
    entries = []
    for listing in listings:
        (line,) = quote([(listing, 1)], context, adjusters).lines
        available = counts[listing.product_id]
        product = listing.product
        entry = {
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
            "instructions": product.instructions,
            "terms": product.terms,
            "image_url": product.image_url,
            "is_bundle": product.is_bundle,
            "price": {
                "points": line.unit.points,
                "cash": Money(line.unit.cash_minor, line.unit.currency),
                "source": line.unit.source,
            },
            "wholesale_price": Money(listing.wholesale_minor, listing.currency),
            "max_per_order": listing.max_per_order,
            "member_monthly_units": listing.member_monthly_units,
            "available": available,
            "in_stock": available is None or available > 0,
        }
        if in_stock is None or entry["in_stock"] == in_stock:
            entries.append(entry)
    return entries

"""What a member pays: one quote pipeline for the catalog and for checkout.

A unit's price goes list → tier → sale (each stage may replace the one before), then every
`PriceAdjuster` in turn sees the whole quote. The catalog quotes one unit of each listing with
the same pipeline checkout uses, so the price a member is shown is the price an order charges
(tests/orders/test_pricing.py). Marketing (coupons, campaigns) plugs in as an adjuster without
touching checkout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from app.partners.models import Listing


@dataclass(frozen=True)
class Price:
    """What a member pays for one unit: points and/or cash (minor units), and which stage of
    the pipeline set it (list | tier | sale | an adjuster's name)."""

    points: int
    cash_minor: int
    currency: str
    source: str = "list"


@dataclass(frozen=True)
class QuoteLine:
    listing: Listing
    quantity: int
    unit: Price

    @property
    def points(self) -> int:
        return self.unit.points * self.quantity

    @property
    def cash_minor(self) -> int:
        return self.unit.cash_minor * self.quantity

    @property
    def wholesale_minor(self) -> int:
        return self.listing.wholesale_minor * self.quantity


@dataclass(frozen=True)
class Quote:
    """Priced lines in one currency; totals are the sums of the lines."""

    lines: tuple[QuoteLine, ...]
    currency: str

    @property
    def points(self) -> int:
        return sum(line.points for line in self.lines)

    @property
    def cash_minor(self) -> int:
        return sum(line.cash_minor for line in self.lines)

    @property
    def wholesale_minor(self) -> int:
        return sum(line.wholesale_minor for line in self.lines)

    def total(self) -> dict[str, Any]:
        """The member's total as the API shows it."""
        return {
            "points": self.points,
            "cash": {"amount": self.cash_minor, "currency": self.currency},
        }


@dataclass(frozen=True)
class PricingContext:
    """Who is buying, and when: what the stages and adjusters may price by."""

    partner_id: str
    member_tier: str | None
    now: datetime
    member_id: str | None = None


class PriceAdjuster(Protocol):
    """A pricing rule beyond the listing (a campaign, a coupon). Returns a new quote; must not
    raise a price above what the listing stages set nor below zero."""

    def adjust(self, quote: Quote, context: PricingContext) -> Quote: ...


def _list_price(listing: Listing) -> Price:
    return Price(listing.price_points, listing.price_cash_minor, listing.currency, "list")


def _tier_price(listing: Listing, price: Price, tier: str | None) -> Price:
    tier_price = (listing.tier_prices or {}).get(tier or "")
    if not tier_price:
        return price
    points, cash = int(tier_price.get("points", 0)), int(tier_price.get("cash", 0))
    return Price(points, cash, listing.currency, "tier")


def _sale_price(listing: Listing, price: Price, now: datetime) -> Price:
    on_sale = (
        (listing.sale_points is not None or listing.sale_cash_minor is not None)
        and (listing.sale_starts_at is None or listing.sale_starts_at <= now)
        and (listing.sale_ends_at is None or now < listing.sale_ends_at)
    )
    if not on_sale:
        return price
    return Price(listing.sale_points or 0, listing.sale_cash_minor or 0, listing.currency, "sale")


def unit_price(listing: Listing, context: PricingContext) -> Price:
    """The listing stages of the pipeline for one unit: a sale while its window is open
    replaces the tier price, which replaces the list price."""
    price = _list_price(listing)
    price = _tier_price(listing, price, context.member_tier)
    return _sale_price(listing, price, context.now)


def quote(
    lines: Sequence[tuple[Listing, int]],
    context: PricingContext,
    adjusters: Sequence[PriceAdjuster] = (),
) -> Quote:
    """Price `lines` ((listing, quantity) pairs, all in one currency) for the member in
    `context`: the listing stages per unit, then each adjuster on the whole quote."""
    if not lines:
        raise ValueError("a quote has at least one line")
    priced = tuple(
        QuoteLine(listing, quantity, unit_price(listing, context)) for listing, quantity in lines
    )
    result = Quote(priced, priced[0].listing.currency)
    for adjuster in adjusters:
        result = adjuster.adjust(result, context)
    return result


@dataclass(frozen=True)
class TierPreview:
    """What a member of one tier (None: no tier) pays for a unit now, and during the listing's
    sale while one is set and not over."""

    tier: str | None
    now: Price
    on_sale: Price | None


def preview(listing: Listing, partner_id: str, now: datetime) -> list[TierPreview]:
    """The listing's member prices by tier, through the same stages checkout runs."""
    sale_moment = None
    has_sale = listing.sale_points is not None or listing.sale_cash_minor is not None
    if has_sale and (listing.sale_ends_at is None or now < listing.sale_ends_at):
        sale_moment = max(now, listing.sale_starts_at or now)
    rows = []
    for tier in [None, *sorted(listing.tier_prices or {})]:
        price_now = unit_price(listing, PricingContext(partner_id, tier, now))
        on_sale = (
            unit_price(listing, PricingContext(partner_id, tier, sale_moment))
            if sale_moment is not None
            else None
        )
        rows.append(TierPreview(tier, price_now, on_sale))
    return rows

"""A partner is a tenant: a bank, airline, carrier or employer running a branded mall."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.audit import JSONType
from app.core.db import Base, PublicIdMixin, TimestampMixin
from app.core.money import PLATFORM_CURRENCY
from app.core.tenancy import PartnerOwnedMixin
from app.supply.models import Product

PARTNER_KINDS = ("bank", "airline", "carrier", "employer")
PARTNER_STATUSES = ("active", "suspended", "closed")
# where a partner's members' points are kept: our ledger, or the partner's own (a bank's points
# of record), reached through its points service (app/members/external.py)
POINTS_SOURCES = ("internal", "external")
NOTIFICATION_CHANNELS = ("sms", "email", "webhook", "off")
NOTIFICATION_KINDS = (  # what members are told of (app/notifications); partners word each
    "code_delivered",  # a card key is ready to reveal
    "recharge_completed",  # a direct recharge (or link) arrived
    "recharge_failed",  # a unit failed; its points went back
    "entitlement_expiring",  # an active entitlement ends within 3 days
    "case_updated",  # an after-sales case was opened or resolved
)


class Partner(PublicIdMixin, TimestampMixin, Base):
    __tablename__ = "partners"
    id_prefix = "prt"

    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="active")
    # display_name, logo_url, primary_color, accent_color, tagline
    branding: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    points_unit_name: Mapped[str] = mapped_column(String(40))
    # `points_rate_points` points are worth `points_rate_value_minor` minor units of CNY.
    points_rate_points: Mapped[int] = mapped_column(Integer, default=100)
    points_rate_value_minor: Mapped[int] = mapped_column(Integer, default=100)
    points_rate_currency: Mapped[str] = mapped_column(String(3), default=PLATFORM_CURRENCY)
    points_source: Mapped[str] = mapped_column(String(16), default="internal")
    # the partner's points service (external source): its base URL and our shared signing
    # secret, sealed by the vault (it signs every request, so it cannot be a one-way hash)
    points_service_url: Mapped[str | None] = mapped_column(String(500))
    points_service_key_id: Mapped[str | None] = mapped_column(String(40))
    points_service_blob: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # how members hear of their orders: our SMS provider or e-mail, the partner itself
    # (`notification.*` webhook events carrying the text), or not at all; and its own wording
    # ({kind: {language: template}}, app/notifications/service.py)
    notification_channel: Mapped[str] = mapped_column(String(8), default="sms")
    notification_templates: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    # where the partner's members are: an authorization limited to a region serves only
    # partners of that region ("GLOBAL" ones serve all)
    region: Mapped[str] = mapped_column(String(60), default="CN")
    # a sandbox partner is the test-mode twin of the live partner named here: its own clients,
    # members, orders and account (test money), sandbox products only, never invoiced
    sandbox_of_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id"), unique=True)
    # a staff adjustment of more points than this waits for a second staff member's approval
    adjustment_approval_points: Mapped[int] = mapped_column(Integer, default=10_000)
    # a bulk grant file of more points than this in all waits for a second staff approval
    bulk_grant_approval_points: Mapped[int] = mapped_column(BigInteger, default=1_000_000)
    # the platform's bound on the prices partner staff set: every member price of a listing
    # (list, tier, sale; points at the partner's rate plus cash) is worth at least this share
    # of its wholesale price, in basis points — a typo can not give stock away
    price_floor_bp: Mapped[int] = mapped_column(Integer, default=8000)
    # the partner's own host name for its mall (mall.jinhai-bank.example): requests to it are
    # the mall at /m/<slug>/ (app/mall/hosts.py); None: only /m/<slug>/ on the platform's host
    mall_host: Mapped[str | None] = mapped_column(String(255), unique=True)
    # where the partner publishes the public keys of the mall launches it signs (a JWKS; beside
    # the keys it uploads), read by app/mall/jwks.py
    mall_jwks_url: Mapped[str | None] = mapped_column(String(500))
    # the partner's payment page for the cash part of a mall checkout, and the secret that signs
    # both ways (sealed by the vault), app/mall/payments.py
    mall_payment_url: Mapped[str | None] = mapped_column(String(500))
    mall_payment_key_id: Mapped[str | None] = mapped_column(String(40))
    mall_payment_blob: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # after-sales service levels: a case is answered within / resolved within (hours)
    case_first_response_hours: Mapped[int] = mapped_column(Integer, default=4)
    case_resolution_hours: Mapped[int] = mapped_column(Integer, default=48)

    # loaded with the partner (most partners have none); an order reads its caps as columns
    quota: Mapped[PartnerQuota | None] = relationship(lazy="joined")

    @property
    def is_sandbox(self) -> bool:
        return self.sandbox_of_id is not None

    @property
    def points(self) -> dict[str, Any]:
        return {
            "unit_name": self.points_unit_name,
            "source": self.points_source,
            "rate": {
                "points": self.points_rate_points,
                "value": {
                    "amount": self.points_rate_value_minor,
                    "currency": self.points_rate_currency,
                },
            },
        }

    def snapshot(self) -> dict[str, Any]:
        """The audited view of a partner (before/after in the audit log)."""
        return {
            "slug": self.slug,
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "branding": dict(self.branding or {}),
            "points": self.points,
            "timezone": self.timezone,
            "region": self.region,
            "sandbox_of_id": self.sandbox_of_id,
            "price_floor_bp": self.price_floor_bp,
            "mall_host": self.mall_host,
            "notifications": self.notifications,
        }

    @property
    def notifications(self) -> dict[str, Any]:
        return {
            "channel": self.notification_channel,
            "templates": dict(self.notification_templates or {}),
        }


class Listing(PublicIdMixin, PartnerOwnedMixin, TimestampMixin, Base):
    """A partner's sale of a product: member price (points and/or cash), the wholesale price
    the partner pays us, tier prices, an optional timed sale price, limits and visibility."""

    __tablename__ = "listings"
    id_prefix = "lst"

    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), index=True)
    price_points: Mapped[int] = mapped_column(Integer, default=0)
    price_cash_minor: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default=PLATFORM_CURRENCY)
    wholesale_minor: Mapped[int] = mapped_column(Integer)
    # {"gold": {"points": 900, "cash": 0}, …}
    tier_prices: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    sale_points: Mapped[int | None] = mapped_column(Integer)
    sale_cash_minor: Mapped[int | None] = mapped_column(Integer)
    sale_starts_at: Mapped[datetime | None]
    sale_ends_at: Mapped[datetime | None]
    max_per_order: Mapped[int] = mapped_column(Integer, default=5)
    # units one member may buy a month (with the partner-wide quota, the lower cap counts)
    member_monthly_units: Mapped[int | None] = mapped_column(Integer)
    is_visible: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=100)

    product: Mapped[Product] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("partner_id", "product_id"),
        Index("ix_listings_partner_id_id", "partner_id", "id"),  # catalog pages, newest first
        # the mall's pages: the partner's own order of its listings
        Index("ix_listings_partner_position", "partner_id", "sort_order", "id"),
    )

    def snapshot(self) -> dict[str, Any]:
        return {
            "product_id": self.product_id,
            "price": {"points": self.price_points, "cash": self.price_cash_minor},
            "wholesale_minor": self.wholesale_minor,
            "tier_prices": self.tier_prices,
            "sale": {
                "points": self.sale_points,
                "cash": self.sale_cash_minor,
                "starts_at": self.sale_starts_at.isoformat() if self.sale_starts_at else None,
                "ends_at": self.sale_ends_at.isoformat() if self.sale_ends_at else None,
            },
            "max_per_order": self.max_per_order,
            "member_monthly_units": self.member_monthly_units,
            "is_visible": self.is_visible,
            "sort_order": self.sort_order,
        }


class PartnerQuota(TimestampMixin, Base):
    """Limits the platform sets on a partner and its members; None = no limit."""

    __tablename__ = "partner_quotas"

    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    monthly_spend_cap_minor: Mapped[int | None] = mapped_column(BigInteger)
    listing_daily_units: Mapped[int | None] = mapped_column(Integer)
    member_listing_daily_units: Mapped[int | None] = mapped_column(Integer)
    member_listing_monthly_units: Mapped[int | None] = mapped_column(Integer)
    member_daily_orders: Mapped[int | None] = mapped_column(Integer)


class UsageCounter(Base):
    """Atomic usage counters behind the quotas: one row per (partner, counter key)."""

    __tablename__ = "usage_counters"

    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)

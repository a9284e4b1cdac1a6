"""Orders and their items. An item keeps a snapshot of what was sold, so past orders read the
same after a product is renamed, repriced or withdrawn."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.audit import JSONType
from app.core.db import Base, PublicIdMixin, TimestampMixin
from app.core.money import PLATFORM_CURRENCY
from app.core.tenancy import PartnerOwnedMixin

if TYPE_CHECKING:
    from app.entitlements.models import Entitlement
    from app.fulfillment.models import Delivery
    from app.members.models import Member

# the order state machine: app/orders/state.py
ORDER_STATUSES = (
    "processing",
    "fulfilled",
    "partially_fulfilled",
    "failed",
    "cancelled",
    "partially_refunded",
    "refunded",
)


class Order(PublicIdMixin, PartnerOwnedMixin, TimestampMixin, Base):
    __tablename__ = "orders"
    id_prefix = "ord"

    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    status: Mapped[str] = mapped_column(String(24))
    points_total: Mapped[int] = mapped_column(Integer, default=0)
    cash_total_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3), default=PLATFORM_CURRENCY)
    wholesale_total_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    cash_payment_ref: Mapped[str | None] = mapped_column(String(120))
    points_entry_id: Mapped[str | None] = mapped_column(String(40))
    cancelled_at: Mapped[datetime | None]
    # the quota counters this order counted (quotas.consume), so a refund gives back exactly
    # those, whatever the caps are by then
    quota_usage: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # what the partner told us of the member when it ordered (risk rules read them)
    member_ip: Mapped[str | None] = mapped_column(String(45))
    device_id: Mapped[str | None] = mapped_column(String(128))
    member_since: Mapped[date | None] = mapped_column(Date)
    # the partner's own order number (unique per partner, kept forever) and its small notes
    client_reference: Mapped[str | None] = mapped_column(String(64))
    extra: Mapped[dict[str, str]] = mapped_column("metadata", JSONType, default=dict)

    items: Mapped[list[OrderItem]] = relationship(order_by="OrderItem.position", lazy="selectin")
    member: Mapped[Member] = relationship(lazy="joined")
    # what the order delivered: created by fulfillment and entitlements, held here for reading
    # (checkout adds them as they are created, so its answer needs no reload)
    deliveries: Mapped[list[Delivery]] = relationship(order_by="Delivery.id")
    entitlements: Mapped[list[Entitlement]] = relationship(order_by="Entitlement.id")

    __table_args__ = (
        Index("ix_orders_partner_id_id", "partner_id", "id"),
        Index("ix_orders_partner_member", "partner_id", "member_id"),
        UniqueConstraint("partner_id", "client_reference"),
    )


class OrderItem(PublicIdMixin, PartnerOwnedMixin, Base):
    __tablename__ = "order_items"
    id_prefix = "itm"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    listing_id: Mapped[str] = mapped_column(ForeignKey("listings.id"))
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    recharge_account: Mapped[str | None] = mapped_column(String(128))
    unit_points: Mapped[int] = mapped_column(Integer)
    unit_cash_minor: Mapped[int] = mapped_column(Integer)
    unit_wholesale_minor: Mapped[int] = mapped_column(Integer)
    # name, brand, category, face_value, validity_days, fulfillment_type, price source,
    # member price and wholesale price at the moment of sale; bundle components.
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # declared so that one flush writes an item before its deliveries (the unit of work orders
    # tables only along relationships); checkout fills delivery.item_id, not this list
    deliveries: Mapped[list[Delivery]] = relationship(order_by="Delivery.id")


CASE_KINDS = ("code_not_working", "recharge_not_received", "other")
CASE_RESOLUTIONS = ("reissued", "refunded", "rejected")


class Case(PublicIdMixin, PartnerOwnedMixin, Base):
    """After-sales (售后): a problem reported with one delivered unit, its evidence, its due
    times and how support resolved it. A unit is remedied (reissued or refunded) at most once,
    whatever the number of cases opened about it."""

    __tablename__ = "cases"
    id_prefix = "cas"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.id"), index=True)
    entitlement_id: Mapped[str | None] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(30))
    description: Mapped[str] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(16), default="open")
    resolution: Mapped[str | None] = mapped_column(String(16))
    resolution_note: Mapped[str | None] = mapped_column(String(1000))
    opened_by: Mapped[str] = mapped_column(String(120))  # "<actor kind>:<actor id>"
    opened_at: Mapped[datetime]
    first_response_due_at: Mapped[datetime]
    resolution_due_at: Mapped[datetime]
    first_responded_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(120))
    replacement_entitlement_id: Mapped[str | None] = mapped_column(String(40))
    # a reissue's new delivery (a direct recharge's entitlement comes once it is delivered)
    replacement_delivery_id: Mapped[str | None] = mapped_column(String(40))
    refunded_points: Mapped[int] = mapped_column(Integer, default=0)
    refunded_wholesale_minor: Mapped[int] = mapped_column(BigInteger, default=0)


LATENCY_BUCKETS_SECONDS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600)  # and above the last


class OrderDayStat(Base):
    """A partner's orders and deliveries of one day (in its timezone), kept by a job so the
    dashboard reads a row per day, whatever the history (app/orders/reports.py)."""

    __tablename__ = "order_day_stats"

    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    orders: Mapped[int] = mapped_column(Integer, default=0)
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    cash_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    wholesale_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    delivered: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    in_flight: Mapped[int] = mapped_column(Integer, default=0)
    # delivered units by delivery time: one count per LATENCY_BUCKETS_SECONDS bound, and above
    latency_buckets: Mapped[list[int]] = mapped_column(JSONType, default=list)
    # {product_id: units} of the day's redeemed orders
    product_units: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    refreshed_at: Mapped[datetime]

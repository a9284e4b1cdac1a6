"""Deliveries: one per unit to fulfil (per component, for bundles). Exactly-once: a delivery
moves to `delivered` once, with the code or receipt that fulfilled it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, PublicIdMixin, TimestampMixin
from app.core.tenancy import PartnerOwnedMixin

DELIVERY_STATUSES = ("pending", "submitted", "delivered", "failed", "cancelled")


class Delivery(PublicIdMixin, PartnerOwnedMixin, TimestampMixin, Base):
    __tablename__ = "deliveries"
    id_prefix = "dlv"

    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("order_items.id"))
    unit: Mapped[int] = mapped_column(default=0)  # which unit of the item (bundles: several rows)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    fulfillment_type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    code_id: Mapped[str | None] = mapped_column(ForeignKey("codes.id"), unique=True)
    recharge_account: Mapped[str | None] = mapped_column(String(128))
    delivered_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_deliveries_status", "status", "id"),)

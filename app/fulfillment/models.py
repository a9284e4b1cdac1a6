"""Deliveries: one per unit to fulfil (per component, for bundles). Exactly-once: a delivery
moves to `delivered` once, with the code or receipt that fulfilled it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.audit import JSONType
from app.core.db import Base, PublicIdMixin, TimestampMixin
from app.core.tenancy import PartnerOwnedMixin

DELIVERY_STATUSES = ("pending", "submitted", "delivered", "failed", "cancelled")
FINAL_STATUSES = ("delivered", "failed", "cancelled")


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
    # direct recharge: the offer being tried, those already given up on, the supplier's word
    offer_id: Mapped[str | None] = mapped_column(ForeignKey("offers.id"))
    # the authorization under which the current offer may serve this delivery
    authorization_id: Mapped[str | None] = mapped_column(ForeignKey("authorizations.id"))
    tried_offer_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    attempts: Mapped[int] = mapped_column(default=0)
    supplier_order_no: Mapped[str | None] = mapped_column(String(120))
    submitted_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # after-sales reissued this unit: the delivery that replaced it (this one stays as it was,
    # for settlement: the supplier was paid for it; the order's status no longer counts it)
    replaced_by_id: Mapped[str | None] = mapped_column(String(40))
    # a supplier result that arrived after the delivery was final (kept for reconciliation)
    late_result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # submissions we moved away from while their supplier could still act on them
    # ([{"supplier_id", "offer_id", "since"}]), polled until final: a silent supplier that
    # recharges after we failed over must not go unrecorded
    open_submissions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    open_check_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_deliveries_status", "status", "id"),
        Index("ix_deliveries_sweep", "status", "next_check_at"),
        Index("ix_deliveries_open_check", "open_check_at"),
    )

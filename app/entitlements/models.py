"""What a member holds after a delivery: the product (as sold), its code (sealed, in the vault)
or receipt, validity and status. Reveals are audited."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.audit import JSONType
from app.core.db import Base, PublicIdMixin, TimestampMixin
from app.core.tenancy import PartnerOwnedMixin

if TYPE_CHECKING:
    from app.fulfillment.models import Delivery

ENTITLEMENT_STATUSES = ("active", "expired", "transferred", "revoked")


class Entitlement(PublicIdMixin, PartnerOwnedMixin, TimestampMixin, Base):
    __tablename__ = "entitlements"
    id_prefix = "ent"

    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"))
    delivery_id: Mapped[str] = mapped_column(ForeignKey("deliveries.id"), unique=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"))
    code_id: Mapped[str | None] = mapped_column(ForeignKey("codes.id"))
    masked_code: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="active")
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime | None]
    # product name, brand, fulfillment type, face value at the moment of sale
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType)
    revealed_count: Mapped[int] = mapped_column(default=0)
    # where it came from: supplier, offer, code batch or supplier order, authorization and
    # its contract reference (for operators and audits; not shown to partners)
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # declared so that one flush writes the delivery before its entitlement (the unit of work
    # orders tables only along relationships)
    delivery: Mapped[Delivery] = relationship()

    __table_args__ = (Index("ix_entitlements_partner_member", "partner_id", "member_id", "id"),)

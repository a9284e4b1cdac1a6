"""Launch tokens (one-time, a minute) and mall sessions (server-side, bound to a partner and
one of its members). Only digests of the tokens are stored: a database reader cannot sign in
as a member."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.audit import JSONType
from app.core.db import Base, PublicIdMixin, TimestampMixin, utcnow
from app.core.tenancy import PartnerOwnedMixin


class LaunchToken(PartnerOwnedMixin, Base):
    __tablename__ = "mall_launch_tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the token
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class MallSession(PublicIdMixin, PartnerOwnedMixin, Base):
    __tablename__ = "mall_sessions"
    id_prefix = "mss"

    digest: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the cookie
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]


class LaunchKey(PublicIdMixin, PartnerOwnedMixin, TimestampMixin, Base):
    """A partner's public key (RS256 or ES256) for launches it signs itself: a JWT the
    partner's app puts in the launch link, with no call to our API first."""

    __tablename__ = "mall_launch_keys"
    id_prefix = "lky"

    kid: Mapped[str] = mapped_column(String(64))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSONType)
    revoked_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("partner_id", "kid"),)


MALL_PAYMENT_STATUSES = (
    "pending",  # the member was sent to the partner's payment page
    "ordered",  # paid, and the order placed (`order_id`)
    "cancelled",  # the member cancelled on the payment page (or it expired unpaid)
    "refund_due",  # paid, but the order could not be placed: the partner refunds the cash
)


class MallPayment(PublicIdMixin, PartnerOwnedMixin, TimestampMixin, Base):
    """The cash part of a mall checkout, paid on the partner's own payment page: what the
    member chose (the order placed on its return), what it was to pay, and how it ended."""

    __tablename__ = "mall_payments"
    id_prefix = "mpy"

    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    listing_id: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int]
    recharge_account: Mapped[str | None] = mapped_column(String(128))
    points: Mapped[int]
    cash_minor: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    checkout_key: Mapped[str] = mapped_column(String(40))  # the order's client reference
    status: Mapped[str] = mapped_column(String(12), default="pending")
    payment_ref: Mapped[str | None] = mapped_column(String(64))  # the partner's payment number
    order_id: Mapped[str | None] = mapped_column(String(40))
    failure: Mapped[str | None] = mapped_column(String(300))
    expires_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("partner_id", "checkout_key"),)

"""Notifications to members: one row per (kind, subject) — the outbox the providers send from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, PublicIdMixin, utcnow
from app.core.tenancy import PartnerOwnedMixin

NOTIFICATION_STATUSES = (
    "queued",  # to send
    "sent",  # handed to the provider (or to the partner as a `notification.*` event)
    "skipped",  # not sent: `skip_reason` says why (opted_out, rate_limited, no_address)
    "failed",  # the provider refused it after every attempt
)


class Notification(PublicIdMixin, PartnerOwnedMixin, Base):
    __tablename__ = "member_notifications"
    id_prefix = "ntf"

    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(24))  # one of NOTIFICATION_KINDS
    # what it is about (an entitlement, a delivery, a case): each is told once per kind
    subject_id: Mapped[str] = mapped_column(String(40))
    order_id: Mapped[str | None] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(8))  # sms | email | webhook | off
    language: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8), default="queued")
    skip_reason: Mapped[str | None] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("kind", "subject_id"),
        Index("ix_member_notifications_member_created", "member_id", "created_at"),
        Index("ix_member_notifications_status", "status"),
    )

"""Events: the outbox. A row is written in the same transaction as the state change it
announces, so a rollback leaves no event and a crash loses none; delivery reads from here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.audit import JSONType
from app.core.db import Base, PublicIdMixin, TimestampMixin, utcnow


class Event(PublicIdMixin, Base):
    __tablename__ = "events"
    id_prefix = "evt"

    type: Mapped[str] = mapped_column(String(60))
    # None: a platform event (supply.*, stock.*), delivered to platform endpoints.
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id"))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    dispatched_at: Mapped[datetime | None]
    order_id: Mapped[str | None] = mapped_column(String(40))  # the order it is about, if any

    __table_args__ = (
        Index("ix_events_partner_id_id", "partner_id", "id"),
        Index("ix_events_undispatched", "dispatched_at", "id"),
        Index("ix_events_order_id", "order_id"),
    )


class WebhookEndpoint(PublicIdMixin, TimestampMixin, Base):
    """Where a partner (or, with partner_id None, the platform) receives signed events. The
    secret is sealed by the vault (it signs every request, so it cannot be a one-way hash)."""

    __tablename__ = "webhook_endpoints"
    id_prefix = "whe"

    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    event_types: Mapped[list[str]] = mapped_column(JSONType, default=list)  # empty: every type
    status: Mapped[str] = mapped_column(String(16), default="active")
    secret_key_id: Mapped[str] = mapped_column(String(40))
    secret_blob: Mapped[bytes] = mapped_column(LargeBinary)
    previous_secret_key_id: Mapped[str | None] = mapped_column(String(40))
    previous_secret_blob: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_secret_expires_at: Mapped[datetime | None]
    failing_since: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    # an attempt is in flight until then (one at a time per endpoint)
    attempt_until: Mapped[datetime | None]

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class WebhookDelivery(PublicIdMixin, TimestampMixin, Base):
    """One event to one endpoint, retried with exponential backoff until it succeeds or its
    retry window (over 24 h) closes."""

    __tablename__ = "webhook_deliveries"
    id_prefix = "whd"

    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    event_id: Mapped[str] = mapped_column(ForeignKey("events.id"))
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|succeeded|failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    # a send is staged (queued or in the dispatcher) until then: no other is staged meanwhile
    lease_until: Mapped[datetime | None]
    last_status_code: Mapped[int | None]
    last_latency_ms: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

"""Events: the outbox. A row is written in the same transaction as the state change it
announces, so a rollback leaves no event and a crash loses none; delivery reads from here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.audit import JSONType
from app.core.db import Base, PublicIdMixin, utcnow


class Event(PublicIdMixin, Base):
    __tablename__ = "events"
    id_prefix = "evt"

    type: Mapped[str] = mapped_column(String(60))
    # None: a platform event (supply.*, stock.*), delivered to platform endpoints.
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id"))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    dispatched_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_events_partner_id_id", "partner_id", "id"),
        Index("ix_events_undispatched", "dispatched_at", "id"),
    )

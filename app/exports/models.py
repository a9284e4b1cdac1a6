"""An export is one CSV file built in the background (gzip-compressed in the database, so
every web and worker process can serve it); a schedule asks for one every day or week."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, deferred, mapped_column

from app.core.audit import JSONType
from app.core.db import Base, PublicIdMixin, TimestampMixin
from app.core.tenancy import PartnerOwnedMixin

EXPORT_KINDS = ("orders", "deliveries", "ledger", "members")
EXPORT_STATUSES = ("queued", "ready", "failed", "expired")
FREQUENCIES = ("daily", "weekly")


class Export(PublicIdMixin, PartnerOwnedMixin, TimestampMixin, Base):
    __tablename__ = "exports"
    id_prefix = "exp"

    kind: Mapped[str] = mapped_column(String(16))
    # the partner-local days covered, both inclusive (members: None, every member as of now)
    date_from: Mapped[date | None] = mapped_column(Date)
    date_to: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    requested_by: Mapped[str] = mapped_column(String(120))
    schedule_id: Mapped[str | None] = mapped_column(String(40))
    rows: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)  # the CSV, uncompressed
    content: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))  # gzip of the CSV
    error: Mapped[str | None] = mapped_column(String(500))
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_exports_partner_id_id", "partner_id", "id"),
        Index("ix_exports_status", "status"),
    )

    @property
    def filename(self) -> str:
        span = (
            f"{self.date_from:%Y%m%d}-{self.date_to:%Y%m%d}"
            if self.date_from and self.date_to
            else f"{self.created_at:%Y%m%d}"
        )
        return f"{self.kind}-{span}-{self.id}.csv"


class ExportSchedule(PublicIdMixin, PartnerOwnedMixin, TimestampMixin, Base):
    """Every day (yesterday's rows) or every Monday (last week's), an export mailed as a link
    to its recipients, who sign in to download it."""

    __tablename__ = "export_schedules"
    id_prefix = "exs"

    kind: Mapped[str] = mapped_column(String(16))
    frequency: Mapped[str] = mapped_column(String(8))
    recipients: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_by: Mapped[str] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(16), default="active")
    # the last day an export of this schedule covered: a period is exported once
    last_period_to: Mapped[date | None] = mapped_column(Date)

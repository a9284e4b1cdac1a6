"""A partner is a tenant: a bank, airline, carrier or employer running a branded mall."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.audit import JSONType
from app.core.db import Base, PublicIdMixin, TimestampMixin

PARTNER_KINDS = ("bank", "airline", "carrier", "employer")
PARTNER_STATUSES = ("active", "suspended")


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
    points_rate_currency: Mapped[str] = mapped_column(String(3), default="CNY")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")

    @property
    def points(self) -> dict[str, Any]:
        return {
            "unit_name": self.points_unit_name,
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
        }

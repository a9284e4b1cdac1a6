"""Launch tokens (one-time, a minute) and mall sessions (server-side, bound to a partner and
one of its members). Only digests of the tokens are stored: a database reader cannot sign in
as a member."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, PublicIdMixin, utcnow
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

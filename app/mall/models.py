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

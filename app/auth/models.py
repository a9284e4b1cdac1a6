"""API clients and their access tokens, shaped for Authlib's client/token mixins.

Secrets are argon2 hashes; tokens are SHA-256 digests (they are long random strings, so a
fast hash is enough and keeps the per-request lookup cheap). Plaintext is never stored.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.audit import JSONType
from app.core.db import Base, PublicIdMixin, TimestampMixin, utcnow
from app.core.principal import PARTNER_PERMISSIONS, PLATFORM_PERMISSIONS

# an API client's scopes are its permissions (the one table: app/core/principal.py)
PARTNER_SCOPES = PARTNER_PERMISSIONS
PLATFORM_SCOPES = PLATFORM_PERMISSIONS
ALL_SCOPES = PARTNER_SCOPES + PLATFORM_SCOPES
CLIENT_KINDS = ("partner", "platform")


class ApiClient(PublicIdMixin, TimestampMixin, Base):
    __tablename__ = "api_clients"
    id_prefix = "cli"

    kind: Mapped[str] = mapped_column(String(16))
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    scope: Mapped[str] = mapped_column(String(400))
    secret_hash: Mapped[str] = mapped_column(String(200))
    previous_secret_hash: Mapped[str | None] = mapped_column(String(200))
    previous_secret_expires_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="active")
    revoked_at: Mapped[datetime | None]
    # Flask-Limiter notation, e.g. "600 per minute"; None: the platform default.
    rate_limit: Mapped[str | None] = mapped_column(String(60))

    # Authlib ClientMixin -------------------------------------------------------------
    def get_client_id(self) -> str:
        return self.id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = self.scope.split()
        if not scope:
            return " ".join(allowed)
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        from app.auth.service import verify_client_secret

        return verify_client_secret(self, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials" and self.status == "active"


class AccessToken(PublicIdMixin, Base):
    __tablename__ = "access_tokens"
    id_prefix = "tok"

    client_id: Mapped[str] = mapped_column(ForeignKey("api_clients.id"), index=True)
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(400))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None]

    client: Mapped[ApiClient] = relationship(lazy="joined")

    # Authlib TokenMixin ----------------------------------------------------------------
    def check_client(self, client: Any) -> bool:
        return bool(client is not None and client.id == self.client_id)

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, int((self.expires_at - utcnow()).total_seconds()))

    def is_expired(self) -> bool:
        return self.expires_at <= utcnow()

    def is_revoked(self) -> bool:
        return self.revoked_at is not None or self.client.status != "active"

    def get_user(self) -> None:
        return None

    def get_client(self) -> ApiClient:
        return self.client

    @property
    def lifetime(self) -> timedelta:
        return self.expires_at - self.issued_at


STAFF_STATUSES = ("invited", "active", "disabled")
STAFF_TOKEN_PURPOSES = ("invitation", "password_reset")


class StaffUser(PublicIdMixin, TimestampMixin, Base):
    """A person who signs in to the admin portal: a partner's staff (`partner_id`) or the
    platform's (`partner_id` None), with one role. The password is an argon2 hash; the TOTP
    secret is sealed in the vault; recovery codes are SHA-256 digests of random codes (long
    enough that a fast hash is safe), each removed when used."""

    __tablename__ = "staff_users"
    id_prefix = "stf"

    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16), default="active")
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_key_id: Mapped[str | None] = mapped_column(String(40))
    totp_blob: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enabled_at: Mapped[datetime | None]
    # the last TOTP time step accepted: a code is never accepted twice
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    recovery_code_hashes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    locale: Mapped[str | None] = mapped_column(String(10))
    last_sign_in_at: Mapped[datetime | None]

    @property
    def has_totp(self) -> bool:
        return self.totp_enabled_at is not None


class StaffSession(PublicIdMixin, Base):
    """A signed-in browser: the cookie holds a random token, this row its SHA-256. It ends at
    `expires_at` (absolute), after the idle timeout without a request, or when revoked (sign
    out, sign out everywhere, password change). Until the second factor is given
    (`verified_at`), it opens nothing but the second-factor pages."""

    __tablename__ = "staff_sessions"
    id_prefix = "ses"

    staff_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    verified_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    staff: Mapped[StaffUser] = relationship(lazy="joined")


class StaffToken(PublicIdMixin, Base):
    """A one-time link sent by mail (an invitation, a password reset): the mail holds the
    token, this row its SHA-256, its purpose and when it stops working."""

    __tablename__ = "staff_tokens"
    id_prefix = "stk"

    staff_id: Mapped[str] = mapped_column(ForeignKey("staff_users.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

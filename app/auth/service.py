"""API clients and tokens: creation, rotation, revocation, verification.

A client secret is returned exactly once, by the call that creates or rotates it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import argon2
from argon2 import PasswordHasher
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.auth.models import PARTNER_SCOPES, PLATFORM_SCOPES, AccessToken, ApiClient
from app.core.audit import Actor, record_audit
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound, ValidationFailed

SECRET_PREFIX = "qysk_"
TOKEN_PREFIX = "qyat_"
MAX_ROTATION_GRACE = timedelta(days=7)

_hasher = PasswordHasher()


_dummy_hash = _hasher.hash("no client has this secret")


def configure_hasher(profile: str) -> None:
    """`cheapest` is for tests only: argon2 at full cost would dominate the suite's time."""
    global _hasher, _dummy_hash
    _hasher = (
        PasswordHasher.from_parameters(argon2.profiles.CHEAPEST)
        if profile == "cheapest"
        else PasswordHasher()
    )
    _dummy_hash = _hasher.hash("no client has this secret")


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def matches_hash(hashed: str | None, secret: str) -> bool:
    if not hashed:
        return False
    try:
        return _hasher.verify(hashed, secret)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


def waste_a_verification() -> None:
    """As much work as checking a wrong secret: an unknown name must not answer faster than a
    known one (a timing oracle for client ids and staff emails)."""
    matches_hash(_dummy_hash, "not the secret")


def verify_client_secret(client: ApiClient, secret: str) -> bool:
    if client.status != "active":
        return False
    if matches_hash(client.secret_hash, secret):
        return True
    grace_until = client.previous_secret_expires_at
    return (
        grace_until is not None
        and grace_until > utcnow()
        and matches_hash(client.previous_secret_hash, secret)
    )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def generate_access_token(*_: Any, **__: Any) -> str:
    """Prefixed so that leaked tokens are easy to spot by secret scanners."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class IssuedClient:
    client: ApiClient
    secret: str


def _validate_scopes(kind: str, scopes: list[str] | None) -> str:
    allowed = PLATFORM_SCOPES if kind == "platform" else PARTNER_SCOPES
    chosen = scopes or list(allowed)
    bad = [s for s in chosen if s not in allowed]
    if bad:
        raise ValidationFailed({"scopes": [f"Not allowed for a {kind} client: {' '.join(bad)}"]})
    return " ".join(dict.fromkeys(chosen))


def create_client(
    session: Session,
    actor: Actor,
    *,
    kind: str,
    name: str,
    partner_id: str | None = None,
    scopes: list[str] | None = None,
) -> IssuedClient:
    if (kind == "partner") != (partner_id is not None):
        raise ValueError("a partner client needs a partner; a platform client must not have one")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    client = ApiClient(
        kind=kind,
        name=name,
        partner_id=partner_id,
        scope=_validate_scopes(kind, scopes),
        secret_hash=hash_secret(secret),
        status="active",
    )
    session.add(client)
    session.flush()
    record_audit(
        session,
        actor,
        "client.created",
        "api_client",
        client.id,
        partner_id=partner_id,
        after={"name": name, "kind": kind, "scope": client.scope},
    )
    return IssuedClient(client, secret)


def rotate_client_secret(
    session: Session, actor: Actor, client: ApiClient, grace: timedelta = timedelta(0)
) -> IssuedClient:
    """New secret now; the old one keeps working for `grace` so integrators can roll over, and
    tokens minted before stop working when the grace ends: at once for an emergency rotation
    (grace 0), where a leaked secret's tokens must die with it."""
    if client.status != "active":
        raise Conflict("A revoked client cannot be rotated.")
    if grace < timedelta(0) or grace > MAX_ROTATION_GRACE:
        raise ValidationFailed({"grace_seconds": ["Must be between 0 and 604800."]})
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    client.previous_secret_hash = client.secret_hash if grace else None
    client.previous_secret_expires_at = utcnow() + grace if grace else None
    client.secret_hash = hash_secret(secret)
    now = utcnow()
    live = (AccessToken.client_id == client.id, AccessToken.revoked_at.is_(None))
    cut_short = (
        update(AccessToken)
        .where(*live, AccessToken.expires_at > now + grace)
        .values(expires_at=now + grace)
        if grace
        else update(AccessToken).where(*live).values(revoked_at=now)
    )
    cut = len(session.execute(cut_short.returning(AccessToken.id)).all())
    record_audit(
        session,
        actor,
        "client.secret_rotated",
        "api_client",
        client.id,
        partner_id=client.partner_id,
        after={"grace_seconds": int(grace.total_seconds()), "tokens_cut_short": cut},
    )
    return IssuedClient(client, secret)


def revoke_client(session: Session, actor: Actor, client: ApiClient) -> ApiClient:
    """A revoked client can no longer get tokens, and its live tokens stop working at once."""
    if client.status == "revoked":
        return client
    client.status = "revoked"
    client.revoked_at = utcnow()
    record_audit(
        session,
        actor,
        "client.revoked",
        "api_client",
        client.id,
        partner_id=client.partner_id,
        before={"status": "active"},
        after={"status": "revoked"},
    )
    return client


def get_partner_client(session: Session, partner_id: str, client_id: str) -> ApiClient:
    client = session.scalars(
        select(ApiClient).where(ApiClient.id == client_id, ApiClient.partner_id == partner_id)
    ).first()
    if client is None:
        raise NotFound("API client not found.")
    return client


def list_partner_clients(session: Session, partner_id: str) -> list[ApiClient]:
    return list(
        session.scalars(
            select(ApiClient).where(ApiClient.partner_id == partner_id).order_by(ApiClient.id)
        )
    )


def find_active_client(session: Session, client_id: str) -> ApiClient | None:
    """The client, or None after as much work as checking a wrong secret takes: an unknown
    id must not answer faster than a known one (a timing oracle for client ids)."""
    client = session.scalars(
        select(ApiClient).where(ApiClient.id == client_id, ApiClient.status == "active")
    ).first()
    if client is None:
        waste_a_verification()
    return client


def store_token(session: Session, client: ApiClient, token: dict[str, Any]) -> AccessToken:
    now = utcnow()
    row = AccessToken(
        client_id=client.id,
        partner_id=client.partner_id,
        token_hash=hash_token(token["access_token"]),
        scope=token.get("scope", ""),
        issued_at=now,
        expires_at=now + timedelta(seconds=int(token["expires_in"])),
    )
    session.add(row)
    return row


def find_token(session: Session, token_string: str) -> AccessToken | None:
    return session.scalars(
        select(AccessToken).where(AccessToken.token_hash == hash_token(token_string))
    ).first()


def revoke_token(token: AccessToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()

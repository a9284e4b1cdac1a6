"""Partners' (and the platform's) webhook endpoints: registration with SSRF checks, sealed
signing secrets and their rotation, listing, deletion."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.audit import Actor, record_audit
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound
from app.core.pagination import Page, paginate
from app.core.vault import Vault
from app.webhooks.models import WebhookDelivery, WebhookEndpoint
from app.webhooks.targets import check_target

ROTATION_OVERLAP = timedelta(hours=24)

SECRET_PREFIX = "whsec_"


@dataclass(frozen=True)
class IssuedEndpoint:
    endpoint: WebhookEndpoint
    secret: str


def _seal(vault: Vault, endpoint_id: str, secret: str) -> tuple[str, bytes]:
    sealed = vault.seal(secret, f"webhook:{endpoint_id}")
    return sealed.key_id, sealed.blob


def endpoint_secrets(vault: Vault, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets to sign with: the current one, and the previous one during a rotation."""
    out = [vault.open(endpoint.secret_key_id, endpoint.secret_blob, f"webhook:{endpoint.id}")]
    if (
        endpoint.previous_secret_blob is not None
        and endpoint.previous_secret_key_id is not None
        and endpoint.previous_secret_expires_at is not None
        and endpoint.previous_secret_expires_at > now
    ):
        out.append(
            vault.open(
                endpoint.previous_secret_key_id,
                endpoint.previous_secret_blob,
                f"webhook:{endpoint.id}",
            )
        )
    return out


MAX_ENDPOINTS_PER_OWNER = 10


class EndpointLimit(Conflict):
    code = "webhook_endpoint_limit"


def create_endpoint(
    session: Session,
    actor: Actor,
    vault: Vault,
    partner_id: str | None,
    url: str,
    event_types: list[str],
    allow_private: bool = False,
) -> IssuedEndpoint:
    """A new endpoint, if its URL is one we may send to (webhooks.targets) and its owner has
    fewer than MAX_ENDPOINTS_PER_OWNER."""
    check_target(url, allow_private)
    kept = session.scalar(
        select(func.count())
        .select_from(WebhookEndpoint)
        .where(
            owned_by(WebhookEndpoint.partner_id, partner_id), WebhookEndpoint.status != "deleted"
        )
    )
    if (kept or 0) >= MAX_ENDPOINTS_PER_OWNER:
        raise EndpointLimit(f"At most {MAX_ENDPOINTS_PER_OWNER} endpoints; delete one first.")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint(
        partner_id=partner_id, url=url, event_types=event_types, status="active"
    )
    endpoint.secret_key_id, endpoint.secret_blob = _seal(vault, endpoint.id, secret)
    session.add(endpoint)
    session.flush()
    record_audit(
        session,
        actor,
        "webhook_endpoint.created",
        "webhook_endpoint",
        endpoint.id,
        partner_id=partner_id,
        after={"url": url, "event_types": event_types},
    )
    return IssuedEndpoint(endpoint, secret)


def rotate_endpoint_secret(
    session: Session, actor: Actor, vault: Vault, endpoint: WebhookEndpoint
) -> IssuedEndpoint:
    """A new secret; the old one keeps signing (as a second `v1`) for 24 h."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    endpoint.previous_secret_key_id, endpoint.previous_secret_blob = (
        endpoint.secret_key_id,
        endpoint.secret_blob,
    )
    endpoint.previous_secret_expires_at = utcnow() + ROTATION_OVERLAP
    endpoint.secret_key_id, endpoint.secret_blob = _seal(vault, endpoint.id, secret)
    record_audit(
        session,
        actor,
        "webhook_endpoint.secret_rotated",
        "webhook_endpoint",
        endpoint.id,
        partner_id=endpoint.partner_id,
    )
    return IssuedEndpoint(endpoint, secret)


def get_endpoint(session: Session, partner_id: str | None, endpoint_id: str) -> WebhookEndpoint:
    endpoint = session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id,
            owned_by(WebhookEndpoint.partner_id, partner_id),
            WebhookEndpoint.status != "deleted",
        )
    ).first()
    if endpoint is None:
        raise NotFound("Webhook endpoint not found.")
    return endpoint


def owned_by(column: Any, partner_id: str | None) -> Any:
    return column.is_(None) if partner_id is None else column == partner_id


def list_endpoints(
    session: Session, partner_id: str | None, limit: int, cursor: str | None
) -> Page[WebhookEndpoint]:
    stmt = select(WebhookEndpoint).where(
        owned_by(WebhookEndpoint.partner_id, partner_id), WebhookEndpoint.status != "deleted"
    )
    return paginate(session, stmt, WebhookEndpoint.id, limit, cursor)


def delete_endpoint(session: Session, actor: Actor, endpoint: WebhookEndpoint) -> None:
    """Deleted endpoints receive nothing more; their delivery log stays for the record."""
    endpoint.status = "deleted"
    record_audit(
        session,
        actor,
        "webhook_endpoint.deleted",
        "webhook_endpoint",
        endpoint.id,
        partner_id=endpoint.partner_id,
    )


def list_deliveries(
    session: Session, endpoint: WebhookEndpoint, limit: int, cursor: str | None
) -> Page[WebhookDelivery]:
    stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    return paginate(session, stmt, WebhookDelivery.id, limit, cursor)

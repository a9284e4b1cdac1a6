"""The partner API's way into the mall: a one-time launch link for a member."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from app.core.db import utcnow
from app.core.http import request_actor
from app.core.openapi import raises
from app.core.principal import requires
from app.core.tenancy import current_partner_id
from app.extensions import db
from app.mall import service
from app.mall.schemas import (
    JwksUrlSchema,
    JwksUrlSetSchema,
    LaunchKeyCreateSchema,
    LaunchKeyListSchema,
    LaunchKeySchema,
    LaunchRequest,
    LaunchRequestSchema,
    LaunchSchema,
)
from app.partners.service import get_partner

blp = Blueprint("mall_api", __name__, url_prefix="/api/v1", description="Partner: mall launch")


def launch_url(slug: str, token: str) -> str:
    base = str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/")
    return f"{base}/m/{slug}/launch?token={token}"


@blp.route("/members/<external_id>/launch", methods=["POST"])
@requires("mall:launch")
@blp.arguments(LaunchRequestSchema())
@blp.response(201, LaunchSchema)
@raises("member_not_found", "member_blocked")
def launch(request: LaunchRequest, external_id: str) -> Any:
    """Send a member into the mall.

    A one-time link into this partner's mall, signed in as the member: redirect the member's
    browser to it within 60 seconds. Each call issues a new link; a used or expired one is
    refused.
    """
    session = db.session()
    partner = get_partner(session, current_partner_id())
    issued = service.issue_launch(
        session, request_actor(), partner.id, external_id, utcnow(), request.create
    )
    return {"url": launch_url(partner.slug, issued.token), "expires_at": issued.expires_at}


@blp.route("/mall/launch-keys", methods=["POST"])
@requires("mall:launch")
@blp.arguments(LaunchKeyCreateSchema())
@blp.response(201, LaunchKeySchema)
@raises("conflict")
def register_launch_key(data: dict[str, Any]) -> Any:
    """Register a key for signed launches.

    Your public key (PEM, RSA or EC P-256) for launches your app signs itself: redirect the
    member to `/m/{slug}/launch?token=<JWT>` with `iss` = your partner id, `aud` =
    `quanyi:mall`, `sub` = the member's external id, `iat`, `exp` (at most 5 minutes later) and
    a unique `jti`, signed RS256 or ES256 with `kid` in the header. Each `jti` works once.
    """
    return service.register_launch_key(
        db.session(), request_actor(), current_partner_id(), data["kid"], data["public_key"]
    )


@blp.route("/mall/launch-keys")
@requires("mall:launch")
@blp.response(200, LaunchKeyListSchema)
def list_launch_keys() -> Any:
    """List the keys for signed launches.

    Every key registered, revoked ones included.
    """
    return {"data": service.list_launch_keys(db.session(), current_partner_id())}


@blp.route("/mall/launch-keys/<kid>/revoke", methods=["POST"])
@requires("mall:launch")
@blp.response(200, LaunchKeySchema)
def revoke_launch_key(kid: str) -> Any:
    """Revoke a key for signed launches.

    Launches signed with it are refused from now on.
    """
    return service.revoke_launch_key(db.session(), request_actor(), current_partner_id(), kid)


@blp.route("/mall/launch-jwks", methods=["PUT"])
@requires("mall:launch")
@blp.arguments(JwksUrlSchema())
@blp.response(200, JwksUrlSetSchema)
@raises("jwks_unavailable", "webhook_url_not_allowed")
def set_launch_jwks(data: dict[str, Any]) -> Any:
    """Publish your launch keys at a URL.

    Instead of (or beside) uploading keys: we read your JWKS when a launch names a kid, keep it
    five minutes, and read it again (at most once a minute) when a launch names a kid we have
    not seen — so rotating a key needs no call to us. The URL must be public https and serve at
    least one acceptable key now.
    """
    session = db.session()
    partner = get_partner(session, current_partner_id())
    kids = service.set_jwks_url(
        session, request_actor(), partner, data["url"],
        current_app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"],
    )  # fmt: skip
    return {"url": partner.mall_jwks_url, "kids": kids}

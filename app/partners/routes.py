"""Partner endpoints: a partner reads itself; the platform manages partners and their clients."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask_smorest import Blueprint

from app.auth import service as auth_service
from app.core.audit import list_audit
from app.core.db import utcnow
from app.core.http import request_actor
from app.core.idempotency import idempotent
from app.core.openapi import raises
from app.core.pagination import LiveOrSandboxArgsSchema, PageArgsSchema, page_schema
from app.core.principal import requires
from app.core.tenancy import current_partner_id
from app.extensions import db
from app.partners import listings, quotas, service
from app.partners.schemas import (
    AuditEventSchema,
    AuditQuerySchema,
    ClientCreateSchema,
    ClientSchema,
    IssuedClientSchema,
    ListingSchema,
    ListingUpdateSchema,
    NewListing,
    PartnerSchema,
    PartnerUpdateSchema,
    QuotaSchema,
    RotateSchema,
    UsageSchema,
)

blp = Blueprint("partner", __name__, url_prefix="/api/v1", description="The partner's own profile")
platform_blp = Blueprint(
    "platform_partners",
    __name__,
    url_prefix="/api/v1/platform/partners",
    description="Platform: partners and their API clients",
)


@blp.route("/partner")
@requires()
@blp.response(200, PartnerSchema)
def get_own_partner() -> Any:
    """Read your partner profile.

    The partner this token acts for: name, kind, status, points unit and exchange rate,
    timezone.
    """
    return service.get_partner(db.session(), current_partner_id())


@blp.route("/usage")
@requires("billing:read")
@blp.response(200, UsageSchema)
def get_usage() -> Any:
    """Read quota usage.

    Each quota of this partner with what today's and this month's orders have used of it (in the
    partner's timezone).
    """
    session = db.session()
    return quotas.usage(session, service.get_partner(session, current_partner_id()), utcnow())


@blp.route("/audit-events")
@requires("audit:read")
@blp.arguments(AuditQuerySchema(), location="query")
@blp.response(200, page_schema(AuditEventSchema))
def list_audit_events(args: dict[str, Any]) -> Any:
    """List audit events.

    Every change made by this partner's API clients and staff, or by the platform on its data,
    newest first: who (actor), what (action, target), before and after. For your SIEM: poll
    with `from` set to the last `occurred_at` you stored.
    """
    return list_audit(
        db.session(), current_partner_id(), args["where"], args["limit"], args["cursor"]
    )


@platform_blp.route("")
@requires("platform")
@platform_blp.arguments(LiveOrSandboxArgsSchema(), location="query")
@platform_blp.response(200, page_schema(PartnerSchema))
def list_partners(args: dict[str, Any]) -> Any:
    """List partners.

    Every live partner of the platform, newest first (`sandbox=true`: their sandbox twins).
    """
    return service.list_partners(db.session(), args["limit"], args["cursor"], args["sandbox"])


@platform_blp.route("", methods=["POST"])
@requires("platform")
@idempotent
@platform_blp.arguments(PartnerSchema())
@platform_blp.response(201, PartnerSchema)
@raises("already_exists")
def create_partner(data: dict[str, Any]) -> Any:
    """Create a partner.

    A new tenant with its slug, kind, points unit and timezone; it has no clients, listings or
    quotas yet.
    """
    return service.create_partner(db.session(), request_actor(), data)


@platform_blp.route("/<partner_id>")
@requires("platform")
@platform_blp.response(200, PartnerSchema)
def get_partner(partner_id: str) -> Any:
    """Read a partner.

    One partner with its quota settings.
    """
    return service.get_partner(db.session(), partner_id)


@platform_blp.route("/<partner_id>", methods=["PATCH"])
@requires("platform")
@platform_blp.arguments(PartnerUpdateSchema(partial=True))
@platform_blp.response(200, PartnerSchema)
def update_partner(data: dict[str, Any], partner_id: str) -> Any:
    """Update a partner.

    Change the fields sent; suspending stops its tokens, orders, deliveries and webhooks.
    """
    session = db.session()
    partner = service.get_partner(session, partner_id)
    service.update_partner(session, request_actor(), partner, data)
    return partner


@platform_blp.route("/<partner_id>/clients")
@requires("platform")
@platform_blp.response(200, ClientSchema(many=True))
def list_clients(partner_id: str) -> Any:
    """List a partner's API clients.

    Client ids, names, scopes and status (never secrets).
    """
    session = db.session()
    service.get_partner(session, partner_id)
    return auth_service.list_partner_clients(session, partner_id)


@platform_blp.route("/<partner_id>/clients", methods=["POST"])
@requires("platform")
@platform_blp.arguments(ClientCreateSchema())
@platform_blp.response(201, IssuedClientSchema)
def create_client(data: dict[str, Any], partner_id: str) -> Any:
    """Create an API client.

    A client-credentials client of the partner with the given scopes; its secret is shown only
    in this answer.
    """
    session = db.session()
    service.get_partner(session, partner_id)
    return auth_service.create_client(
        session,
        request_actor(),
        kind="partner",
        partner_id=partner_id,
        name=data["name"],
        scopes=data["scopes"],
    )


@platform_blp.route("/<partner_id>/clients/<client_id>/rotate", methods=["POST"])
@requires("platform")
@platform_blp.arguments(RotateSchema())
@platform_blp.response(200, IssuedClientSchema)
def rotate_client(data: dict[str, Any], partner_id: str, client_id: str) -> Any:
    """Rotate a client's secret.

    A new secret, shown only in this answer; the old one stops working at once.
    """
    session = db.session()
    client = auth_service.get_partner_client(session, partner_id, client_id)
    return auth_service.rotate_client_secret(
        session, request_actor(), client, timedelta(seconds=data["grace_seconds"])
    )


@platform_blp.route("/<partner_id>/clients/<client_id>/revoke", methods=["POST"])
@requires("platform")
@platform_blp.response(200, ClientSchema)
def revoke_client(partner_id: str, client_id: str) -> Any:
    """Revoke an API client.

    The client and all its tokens stop working.
    """
    session = db.session()
    client = auth_service.get_partner_client(session, partner_id, client_id)
    return auth_service.revoke_client(session, request_actor(), client)


# --- listings, quotas and the partner account (platform) --------------------------------


@platform_blp.route("/<partner_id>/listings")
@requires("platform")
@platform_blp.arguments(PageArgsSchema(), location="query")
@platform_blp.response(200, page_schema(ListingSchema))
def list_listings(args: dict[str, Any], partner_id: str) -> Any:
    """List a partner's listings.

    What the partner sells, at which prices, active or not.
    """
    session = db.session()
    service.get_partner(session, partner_id)
    return listings.list_listings(session, partner_id, args["limit"], args["cursor"])


@platform_blp.route("/<partner_id>/listings", methods=["POST"])
@requires("platform")
@platform_blp.arguments(ListingSchema())
@platform_blp.response(201, ListingSchema)
@raises("already_exists")
def create_listing(new: NewListing, partner_id: str) -> Any:
    """List a product for a partner.

    A product becomes sellable to the partner at the given member price (points and/or cash) and
    wholesale price.
    """
    session = db.session()
    service.get_partner(session, partner_id)
    return listings.create_listing(session, request_actor(), partner_id, new.product_id, new.terms)


@platform_blp.route("/<partner_id>/listings/<listing_id>", methods=["PATCH"])
@requires("platform")
@platform_blp.arguments(ListingUpdateSchema(partial=True))
@platform_blp.response(200, ListingSchema)
def update_listing(terms: listings.ListingTerms, partner_id: str, listing_id: str) -> Any:
    """Update a listing.

    Prices, tiers, sale window, limits or status of one listing.
    """
    session = db.session()
    listing = listings.get_listing(session, partner_id, listing_id)
    listings.update_listing(session, request_actor(), listing, terms)
    return listing


@platform_blp.route("/<partner_id>/quota", methods=["PUT"])
@requires("platform")
@platform_blp.arguments(QuotaSchema())
@platform_blp.response(200, QuotaSchema)
def set_quota(data: dict[str, Any], partner_id: str) -> Any:
    """Set a partner's quotas.

    Daily and monthly caps on units and spend; a field left out keeps its value, `null` removes
    the cap.
    """
    session = db.session()
    service.get_partner(session, partner_id)
    return quotas.set_quota(session, request_actor(), partner_id, data)

"""Partner endpoints: a partner reads itself; the platform manages partners and their clients."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask_smorest import Blueprint

from app.auth import service as auth_service
from app.core.db import utcnow
from app.core.http import request_actor
from app.core.idempotency import idempotent
from app.core.pagination import PageArgsSchema, page_schema
from app.core.principal import requires
from app.core.tenancy import current_partner_id
from app.extensions import db
from app.partners import listings, quotas, service
from app.partners.schemas import (
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
    return service.get_partner(db.session(), current_partner_id())


@blp.route("/usage")
@requires("billing:read")
@blp.response(200, UsageSchema)
def get_usage() -> Any:
    session = db.session()
    return quotas.usage(session, service.get_partner(session, current_partner_id()), utcnow())


@platform_blp.route("")
@requires("platform")
@platform_blp.arguments(PageArgsSchema(), location="query")
@platform_blp.response(200, page_schema(PartnerSchema))
def list_partners(args: dict[str, Any]) -> Any:
    return service.list_partners(db.session(), args["limit"], args["cursor"])


@platform_blp.route("", methods=["POST"])
@requires("platform")
@idempotent
@platform_blp.arguments(PartnerSchema())
@platform_blp.response(201, PartnerSchema)
def create_partner(data: dict[str, Any]) -> Any:
    return service.create_partner(db.session(), request_actor(), data)


@platform_blp.route("/<partner_id>")
@requires("platform")
@platform_blp.response(200, PartnerSchema)
def get_partner(partner_id: str) -> Any:
    return service.get_partner(db.session(), partner_id)


@platform_blp.route("/<partner_id>", methods=["PATCH"])
@requires("platform")
@platform_blp.arguments(PartnerUpdateSchema(partial=True))
@platform_blp.response(200, PartnerSchema)
def update_partner(data: dict[str, Any], partner_id: str) -> Any:
    session = db.session()
    partner = service.get_partner(session, partner_id)
    service.update_partner(session, request_actor(), partner, data)
    return partner


@platform_blp.route("/<partner_id>/clients")
@requires("platform")
@platform_blp.response(200, ClientSchema(many=True))
def list_clients(partner_id: str) -> Any:
    session = db.session()
    service.get_partner(session, partner_id)
    return auth_service.list_partner_clients(session, partner_id)


@platform_blp.route("/<partner_id>/clients", methods=["POST"])
@requires("platform")
@platform_blp.arguments(ClientCreateSchema())
@platform_blp.response(201, IssuedClientSchema)
def create_client(data: dict[str, Any], partner_id: str) -> Any:
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
    session = db.session()
    client = auth_service.get_partner_client(session, partner_id, client_id)
    return auth_service.rotate_client_secret(
        session, request_actor(), client, timedelta(seconds=data["grace_seconds"])
    )


@platform_blp.route("/<partner_id>/clients/<client_id>/revoke", methods=["POST"])
@requires("platform")
@platform_blp.response(200, ClientSchema)
def revoke_client(partner_id: str, client_id: str) -> Any:
    session = db.session()
    client = auth_service.get_partner_client(session, partner_id, client_id)
    return auth_service.revoke_client(session, request_actor(), client)


# --- listings, quotas and the partner account (platform) --------------------------------


@platform_blp.route("/<partner_id>/listings")
@requires("platform")
@platform_blp.arguments(PageArgsSchema(), location="query")
@platform_blp.response(200, page_schema(ListingSchema))
def list_listings(args: dict[str, Any], partner_id: str) -> Any:
    session = db.session()
    service.get_partner(session, partner_id)
    return listings.list_listings(session, partner_id, args["limit"], args["cursor"])


@platform_blp.route("/<partner_id>/listings", methods=["POST"])
@requires("platform")
@platform_blp.arguments(ListingSchema())
@platform_blp.response(201, ListingSchema)
def create_listing(new: NewListing, partner_id: str) -> Any:
    session = db.session()
    service.get_partner(session, partner_id)
    return listings.create_listing(session, request_actor(), partner_id, new.product_id, new.terms)


@platform_blp.route("/<partner_id>/listings/<listing_id>", methods=["PATCH"])
@requires("platform")
@platform_blp.arguments(ListingUpdateSchema(partial=True))
@platform_blp.response(200, ListingSchema)
def update_listing(terms: listings.ListingTerms, partner_id: str, listing_id: str) -> Any:
    session = db.session()
    listing = listings.get_listing(session, partner_id, listing_id)
    listings.update_listing(session, request_actor(), listing, terms)
    return listing


@platform_blp.route("/<partner_id>/quota", methods=["PUT"])
@requires("platform")
@platform_blp.arguments(QuotaSchema())
@platform_blp.response(200, QuotaSchema)
def set_quota(data: dict[str, Any], partner_id: str) -> Any:
    session = db.session()
    service.get_partner(session, partner_id)
    return quotas.set_quota(session, request_actor(), partner_id, data)

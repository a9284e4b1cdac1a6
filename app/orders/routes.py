"""Partner endpoints for the shop front: the catalog (priced as checkout prices) and orders."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from app.core.db import utcnow
from app.core.http import request_actor
from app.core.idempotency import idempotent
from app.core.logging import note
from app.core.openapi import raises
from app.core.pagination import Page, page_schema
from app.core.principal import requires
from app.core.tenancy import current_partner_id
from app.core.vault import current_vault
from app.extensions import db
from app.members.service import find_member
from app.orders import aftersales, checkout
from app.orders import service as orders
from app.orders.catalog import catalog_entries
from app.orders.pricing import PricingContext
from app.orders.schemas import (
    CaseCreateSchema,
    CaseQuerySchema,
    CaseSchema,
    OrderCreateSchema,
    OrderQuerySchema,
    OrderSchema,
    OrderSummarySchema,
)
from app.partners import listings
from app.partners.schemas import (
    CatalogDetailQuerySchema,
    CatalogEntrySchema,
    CatalogQuerySchema,
    FacetListSchema,
)

blp = Blueprint("orders", __name__, url_prefix="/api/v1", description="Partner: catalog and orders")


def checkout_policies() -> checkout.Policies:
    """The pluggable parts of checkout this app runs with (price adjusters, risk check)."""
    policies: checkout.Policies = current_app.extensions["quanyi_checkout"]
    return policies


def _pricing(partner_id: str, member_external_id: str | None) -> PricingContext:
    """Price for this member (its tier), or for no one in particular."""
    member = (
        find_member(db.session(), partner_id, member_external_id) if member_external_id else None
    )
    return PricingContext(
        partner_id, member.tier if member else None, utcnow(), member.id if member else None
    )


@blp.route("/catalog")
@requires("catalog:read")
@blp.arguments(CatalogQuerySchema(), location="query")
@blp.response(200, page_schema(CatalogEntrySchema))
def get_catalog(args: dict[str, Any]) -> Any:
    """List the catalog.

    Sellable listings with this partner's prices and availability. `in_stock` filters the page
    it returns (a page may then hold fewer than `limit` entries; follow `next_cursor`).
    """
    session, partner_id = db.session(), current_partner_id()
    context = _pricing(partner_id, args["member"])
    page = listings.catalog(session, partner_id, args["limit"], args["cursor"], args)
    entries = catalog_entries(
        session, page.data, context, checkout_policies().adjusters, args["in_stock"]
    )
    return Page(entries, page.next_cursor)


@blp.route("/catalog/categories")
@requires("catalog:read")
@blp.response(200, FacetListSchema)
def list_categories() -> Any:
    """List the catalog's categories.

    Each category of this partner's sellable listings with how many there are, by name: the
    shop front's navigation (filter the catalog with `category=`).
    """
    return _facet("categories")


@blp.route("/catalog/brands")
@requires("catalog:read")
@blp.response(200, FacetListSchema)
def list_brands() -> Any:
    """List the catalog's brands.

    Each brand of this partner's sellable listings with how many there are, by name (filter
    the catalog with `brand=`).
    """
    return _facet("brands")


def _facet(facet: str) -> dict[str, Any]:
    rows = listings.catalog_facet(db.session(), current_partner_id(), facet)
    return {"data": [{"name": name, "listings": count} for name, count in rows]}


@blp.route("/catalog/<listing_id>")
@requires("catalog:read")
@blp.arguments(CatalogDetailQuerySchema(), location="query")
@blp.response(200, CatalogEntrySchema)
@raises("listing_not_found")
def get_catalog_entry(args: dict[str, Any], listing_id: str) -> Any:
    """Read one catalog entry.

    One sellable listing at this partner's price; with `member`, priced in that member's tier.
    Another partner's listing answers 404.
    """
    session, partner_id = db.session(), current_partner_id()
    listing = listings.get_listing(session, partner_id, listing_id, sellable_only=True)
    context = _pricing(partner_id, args["member"])
    (entry,) = catalog_entries(session, [listing], context, checkout_policies().adjusters)
    return entry


@blp.route("/orders", methods=["POST"])
@requires("orders:write")
@idempotent
@blp.arguments(OrderCreateSchema())
@blp.response(201, OrderSchema)
@raises(
    "listing_not_found",
    "member_not_found",
    "member_blocked",
    "out_of_stock",
    "price_changed",
    "payment_mismatch",
    "invalid_recharge_account",
    "order_denied",
    "quota_exceeded",
    "insufficient_points",
    "insufficient_partner_balance",
    "client_reference_used",
    "points_service_unavailable",
)
def place_order(command: checkout.PlaceOrder) -> Any:
    """Place an order.

    Prices come from the listings; `expected_total` (optional) guards against a change.
    """
    note(member=command.member_external_id, client_reference=command.client_reference)
    order = checkout.place_order(
        db.session(),
        request_actor(),
        current_partner_id(),
        command,
        vault=current_vault(),
        policies=checkout_policies(),
    )
    note(order_id=order.id)
    return order


@blp.route("/orders")
@requires("orders:read")
@blp.arguments(OrderQuerySchema(), location="query")
@blp.response(200, page_schema(OrderSummarySchema))
def list_orders(args: dict[str, Any]) -> Any:
    """List orders.

    This partner's orders, newest first; filter by member, your reference, status, product
    or creation time.
    Cursor-paginated.
    """
    return orders.list_orders(
        db.session(), current_partner_id(), args["limit"], args["cursor"], args
    )


@blp.route("/orders/<order_id>")
@requires("orders:read")
@blp.response(200, OrderSchema)
def get_order(order_id: str) -> Any:
    """Read an order.

    Items, totals, status and the order's entitlements (codes masked; reveal them one by one).
    """
    return orders.get_order(db.session(), current_partner_id(), order_id)


@blp.route("/orders/<order_id>/cancel", methods=["POST"])
@requires("orders:write")
@idempotent
@blp.response(200, OrderSchema)
@raises("order_not_cancellable")
def cancel_order(order_id: str) -> Any:
    """Cancel an order's unsent units.

    Units not yet delivered are cancelled; their points go back to the member and their
    wholesale price to the partner account. Delivered units stay.
    """
    return orders.cancel_order(db.session(), request_actor(), current_partner_id(), order_id)


@blp.route("/orders/<order_id>/cases", methods=["POST"])
@requires("orders:write")
@idempotent
@blp.arguments(CaseCreateSchema())
@blp.response(201, CaseSchema)
@raises(aftersales.UnitNotDelivered, aftersales.CaseAlreadyOpen)
def open_case(data: dict[str, Any], order_id: str) -> Any:
    """Report a problem with a delivered unit (after-sales).

    For your own support system: a member says a code does not work, or a recharge never
    arrived. Our support resolves the case by reissuing the unit, refunding it, or rejecting
    it; `case.opened` and `case.resolved` events follow it. Due times: first response within
    4 hours, resolution within 48.
    """
    return aftersales.open_case(
        db.session(),
        request_actor(),
        current_partner_id(),
        order_id,
        data["delivery_id"],
        data["kind"],
        data["description"],
        utcnow(),
    )


@blp.route("/cases")
@requires("orders:read")
@blp.arguments(CaseQuerySchema(), location="query")
@blp.response(200, page_schema(CaseSchema))
def list_cases(args: dict[str, Any]) -> Any:
    """List after-sales cases.

    This partner's cases, newest first (`status=open` for those still waiting).
    """
    return aftersales.list_cases(
        db.session(), current_partner_id(), args["status"], args["limit"], args["cursor"]
    )


@blp.route("/cases/<case_id>")
@requires("orders:read")
@blp.response(200, CaseSchema)
def get_case(case_id: str) -> Any:
    """Read an after-sales case.

    Its status, due times and resolution (with the replacement entitlement of a reissue).
    """
    return aftersales.get_case(db.session(), current_partner_id(), case_id)

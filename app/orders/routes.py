"""Partner endpoints for the mall: catalog, members and points, orders, entitlements, usage."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from app.auth.oauth import require_scope
from app.billing.schemas import AccountSchema
from app.billing.service import account_for
from app.core.db import utcnow
from app.core.http import request_actor
from app.core.idempotency import idempotent
from app.core.pagination import Page, PageArgsSchema, page_schema
from app.core.tenancy import current_partner_id
from app.core.vault import current_vault
from app.entitlements import service as entitlements
from app.extensions import db, limiter
from app.members import service as members
from app.members.schemas import (
    MemberSchema,
    MemberUpsertSchema,
    PointsEntrySchema,
    PointsMoveSchema,
)
from app.orders import service as orders
from app.orders.schemas import (
    EntitlementSchema,
    OrderCreateSchema,
    OrderQuerySchema,
    OrderSchema,
    OrderSummarySchema,
    RevealSchema,
)
from app.partners import listings, quotas
from app.partners.schemas import (
    CatalogDetailQuerySchema,
    CatalogEntrySchema,
    CatalogQuerySchema,
    UsageSchema,
)
from app.partners.service import get_partner

blp = Blueprint(
    "mall", __name__, url_prefix="/api/v1", description="Partner: catalog, members, orders"
)


def _tier(partner_id: str, member_external_id: str | None) -> str | None:
    if not member_external_id:
        return None
    return members.find_member(db.session(), partner_id, member_external_id).tier


# --- catalog ----------------------------------------------------------------------------


@blp.route("/catalog")
@require_scope("catalog:read")
@blp.arguments(CatalogQuerySchema(), location="query")
@blp.response(200, page_schema(CatalogEntrySchema))
def get_catalog(args: dict[str, Any]) -> Any:
    """Sellable listings with this partner's prices and availability. `in_stock` filters the
    page it returns (a page may then hold fewer than `limit` entries; follow `next_cursor`)."""
    session, partner_id, now = db.session(), current_partner_id(), utcnow()
    tier = _tier(partner_id, args["member"])
    page = listings.catalog(session, partner_id, args["limit"], args["cursor"], args)
    entries = listings.catalog_entries(session, page.data, tier, now, args["in_stock"])
    return Page(entries, page.next_cursor)


@blp.route("/catalog/<listing_id>")
@require_scope("catalog:read")
@blp.arguments(CatalogDetailQuerySchema(), location="query")
@blp.response(200, CatalogEntrySchema)
def get_catalog_entry(args: dict[str, Any], listing_id: str) -> Any:
    session, partner_id = db.session(), current_partner_id()
    listing = listings.get_listing(session, partner_id, listing_id, sellable_only=True)
    (entry,) = listings.catalog_entries(
        session, [listing], _tier(partner_id, args["member"]), utcnow()
    )
    return entry


# --- members and points -----------------------------------------------------------------


@blp.route("/members")
@require_scope("members:read")
@blp.arguments(PageArgsSchema(), location="query")
@blp.response(200, page_schema(MemberSchema))
def list_members(args: dict[str, Any]) -> Any:
    return members.list_members(db.session(), current_partner_id(), args["limit"], args["cursor"])


@blp.route("/members/<external_id>", methods=["PUT"])
@require_scope("members:write")
@blp.arguments(MemberUpsertSchema())
@blp.response(200, MemberSchema)
def upsert_member(data: dict[str, Any], external_id: str) -> Any:
    member, _ = members.upsert_member(
        db.session(), request_actor(), current_partner_id(), external_id, data, current_vault()
    )
    return member


@blp.route("/members/<external_id>")
@require_scope("members:read")
@blp.response(200, MemberSchema)
def get_member(external_id: str) -> Any:
    return members.find_member(db.session(), current_partner_id(), external_id)


@blp.route("/members/<external_id>/points", methods=["POST"])
@require_scope("members:write")
@idempotent
@blp.arguments(PointsMoveSchema())
@blp.response(201, PointsEntrySchema)
def move_points(data: dict[str, Any], external_id: str) -> Any:
    """Grant (optionally expiring) or deduct points. Deductions take the soonest-expiring first."""
    session = db.session()
    member = members.find_member(session, current_partner_id(), external_id, for_update=True)
    if data["type"] == "grant":
        return members.grant_points(
            session, member, data["amount"], data["reason"], data["expires_at"]
        )
    return members.spend_points(session, member, data["amount"], data["reason"], kind="deduct")


@blp.route("/members/<external_id>/points/ledger")
@require_scope("members:read")
@blp.arguments(PageArgsSchema(), location="query")
@blp.response(200, page_schema(PointsEntrySchema))
def points_ledger(args: dict[str, Any], external_id: str) -> Any:
    session, partner_id = db.session(), current_partner_id()
    member = members.find_member(session, partner_id, external_id)
    return members.ledger(session, partner_id, member, args["limit"], args["cursor"])


@blp.route("/members/<external_id>/entitlements")
@require_scope("entitlements:read")
@blp.arguments(PageArgsSchema(), location="query")
@blp.response(200, page_schema(EntitlementSchema))
def member_entitlements(args: dict[str, Any], external_id: str) -> Any:
    session, partner_id = db.session(), current_partner_id()
    member = members.find_member(session, partner_id, external_id)
    return entitlements.list_entitlements(
        session, partner_id, member, args["limit"], args["cursor"]
    )


@blp.route("/entitlements/<entitlement_id>/reveal", methods=["POST"])
@require_scope("entitlements:reveal")
@limiter.limit("30 per minute")
@blp.response(200, RevealSchema)
def reveal_entitlement(entitlement_id: str) -> Any:
    """The code in clear, for showing to its member. Audited; rate-limited per client."""
    entitlement, code, password = entitlements.reveal(
        db.session(), request_actor(), current_vault(), current_partner_id(), entitlement_id
    )
    return {
        "entitlement_id": entitlement.id,
        "code": code,
        "password": password,
        "masked_code": entitlement.masked_code,
    }


# --- orders -----------------------------------------------------------------------------


@blp.route("/orders", methods=["POST"])
@require_scope("orders:write")
@idempotent
@blp.arguments(OrderCreateSchema())
@blp.response(201, OrderSchema)
def place_order(data: dict[str, Any]) -> Any:
    """Prices come from the listings; `expected_total` (optional) guards against a change."""
    session = db.session()
    order = orders.place_order(
        session,
        request_actor(),
        current_partner_id(),
        data["member"],
        [
            orders.OrderLine(i["listing"], i["quantity"], i["recharge_account"])
            for i in data["items"]
        ],
        data["payment"],
        data["expected_total"],
        vault=current_vault(),
    )
    return order


@blp.route("/orders")
@require_scope("orders:read")
@blp.arguments(OrderQuerySchema(), location="query")
@blp.response(200, page_schema(OrderSummarySchema))
def list_orders(args: dict[str, Any]) -> Any:
    return orders.list_orders(
        db.session(), current_partner_id(), args["limit"], args["cursor"], args
    )


@blp.route("/orders/<order_id>")
@require_scope("orders:read")
@blp.response(200, OrderSchema)
def get_order(order_id: str) -> Any:
    return orders.get_order(db.session(), current_partner_id(), order_id)


@blp.route("/orders/<order_id>/cancel", methods=["POST"])
@require_scope("orders:write")
@idempotent
@blp.response(200, OrderSchema)
def cancel_order(order_id: str) -> Any:
    session = db.session()
    partner = get_partner(session, current_partner_id())
    return orders.cancel_order(session, request_actor(), partner, order_id)


# --- usage and account ------------------------------------------------------------------


@blp.route("/usage")
@require_scope("billing:read")
@blp.response(200, UsageSchema)
def get_usage() -> Any:
    session = db.session()
    return quotas.usage(session, get_partner(session, current_partner_id()), utcnow())


@blp.route("/account")
@require_scope("billing:read")
@blp.response(200, AccountSchema)
def get_account() -> Any:
    return account_for(db.session(), current_partner_id())

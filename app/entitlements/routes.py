"""Partner endpoints for its members' entitlements."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from app.core.http import request_actor
from app.core.openapi import raises
from app.core.pagination import PageArgsSchema, page_schema
from app.core.principal import requires
from app.core.tenancy import current_partner_id
from app.core.vault import current_vault
from app.entitlements import service as entitlements
from app.entitlements.schemas import EntitlementSchema, RevealSchema
from app.extensions import db, limiter
from app.members.service import find_member

blp = Blueprint(
    "entitlements", __name__, url_prefix="/api/v1", description="Partner: members' entitlements"
)


@blp.route("/members/<external_id>/entitlements")
@requires("entitlements:read")
@blp.arguments(PageArgsSchema(), location="query")
@blp.response(200, page_schema(EntitlementSchema))
@raises("member_not_found")
def member_entitlements(args: dict[str, Any], external_id: str) -> Any:
    """List a member's entitlements.

    What the member holds after its orders: product, status, validity, masked code. Newest
    first.
    """
    session, partner_id = db.session(), current_partner_id()
    member = find_member(session, partner_id, external_id)
    return entitlements.list_entitlements(
        session, partner_id, member, args["limit"], args["cursor"]
    )


@blp.route("/entitlements/<entitlement_id>/reveal", methods=["POST"])
@requires("entitlements:reveal")
@limiter.limit("30 per minute")
@blp.response(200, RevealSchema)
@raises("nothing_to_reveal")
def reveal_entitlement(entitlement_id: str) -> Any:
    """Reveal a card code.

    The code in clear, for showing to its member. Audited; rate-limited per client.
    """
    entitlement, code, password = entitlements.reveal(
        db.session(), request_actor(), current_vault(), current_partner_id(), entitlement_id
    )
    return {
        "entitlement_id": entitlement.id,
        "code": code,
        "password": password,
        "masked_code": entitlement.masked_code,
    }

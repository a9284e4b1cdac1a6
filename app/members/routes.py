"""Partner endpoints for its members and their points."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from app.core.http import request_actor
from app.core.idempotency import idempotent
from app.core.openapi import raises
from app.core.pagination import PageArgsSchema, page_schema
from app.core.principal import requires
from app.core.tenancy import current_partner_id
from app.core.vault import current_vault
from app.extensions import db
from app.members import external
from app.members import service as members
from app.members.schemas import (
    ExternalPointsMoveSchema,
    MemberSchema,
    MemberUpsertSchema,
    PointsEntrySchema,
    PointsMoveSchema,
    PointsMovesQuerySchema,
)

blp = Blueprint("members", __name__, url_prefix="/api/v1", description="Partner: members, points")


@blp.route("/members")
@requires("members:read")
@blp.arguments(PageArgsSchema(), location="query")
@blp.response(200, page_schema(MemberSchema))
def list_members(args: dict[str, Any]) -> Any:
    """List members.

    This partner's members, newest first. Cursor-paginated.
    """
    return members.list_members(db.session(), current_partner_id(), args["limit"], args["cursor"])


@blp.route("/members/<external_id>", methods=["PUT"])
@requires("members:write")
@blp.arguments(MemberUpsertSchema())
@blp.response(200, MemberSchema)
def upsert_member(changes: members.MemberChanges, external_id: str) -> Any:
    """Create or update a member.

    Keyed by your own `external_id`: the first call creates the member, later calls change only
    the fields they send.
    """
    member, _ = members.upsert_member(
        db.session(), request_actor(), current_partner_id(), external_id, changes, current_vault()
    )
    return member


@blp.route("/members/<external_id>")
@requires("members:read")
@blp.response(200, MemberSchema)
@raises("member_not_found")
def get_member(external_id: str) -> Any:
    """Read a member.

    Profile, tier, status and points balance.
    """
    return members.find_member(db.session(), current_partner_id(), external_id)


@blp.route("/members/<external_id>/points", methods=["POST"])
@requires("members:write")
@idempotent
@blp.arguments(PointsMoveSchema())
@blp.response(201, PointsEntrySchema)
@raises("member_not_found", "insufficient_points", "points_balance_limit", "points_kept_by_partner")
def move_points(move: members.PointsMove, external_id: str) -> Any:
    """Grant or deduct points.

    Grant (optionally expiring) or deduct points. Deductions take the soonest-expiring first.
    """
    return members.move_points(db.session(), current_partner_id(), external_id, move)


@blp.route("/members/<external_id>/points/ledger")
@requires("members:read")
@blp.arguments(PageArgsSchema(), location="query")
@blp.response(200, page_schema(PointsEntrySchema))
@raises("member_not_found")
def points_ledger(args: dict[str, Any], external_id: str) -> Any:
    """Read a member's points ledger.

    Every grant, spend, refund and expiry, newest first, with the balance after each.
    """
    session, partner_id = db.session(), current_partner_id()
    member = members.find_member(session, partner_id, external_id)
    return members.ledger(session, partner_id, member, args["limit"], args["cursor"])


@blp.route("/points/moves")
@requires("members:read")
@blp.arguments(PointsMovesQuerySchema(), location="query")
@blp.response(200, page_schema(ExternalPointsMoveSchema))
@raises("member_not_found")
def points_moves(args: dict[str, Any]) -> Any:
    """Reconcile your points ledger.

    For a partner that keeps its members' points in its own ledger (points source `external`):
    every deduction and refund we sent to your points service on one of your local days, each
    with the `request_id` you saw and its status here, for you to match against your ledger.
    Cursor-paginated.
    """
    session, partner_id = db.session(), current_partner_id()
    member = members.find_member(session, partner_id, args["member"]) if args["member"] else None
    return external.list_moves(
        session, partner_id, args["date"], args["limit"], args["cursor"],
        member.id if member else None,
    )  # fmt: skip

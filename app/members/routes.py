"""Partner endpoints for its members and their points."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from app.core.http import request_actor
from app.core.idempotency import idempotent
from app.core.pagination import PageArgsSchema, page_schema
from app.core.principal import requires
from app.core.tenancy import current_partner_id
from app.core.vault import current_vault
from app.extensions import db
from app.members import service as members
from app.members.schemas import (
    MemberSchema,
    MemberUpsertSchema,
    PointsEntrySchema,
    PointsMoveSchema,
)

blp = Blueprint("members", __name__, url_prefix="/api/v1", description="Partner: members, points")


@blp.route("/members")
@requires("members:read")
@blp.arguments(PageArgsSchema(), location="query")
@blp.response(200, page_schema(MemberSchema))
def list_members(args: dict[str, Any]) -> Any:
    return members.list_members(db.session(), current_partner_id(), args["limit"], args["cursor"])


@blp.route("/members/<external_id>", methods=["PUT"])
@requires("members:write")
@blp.arguments(MemberUpsertSchema())
@blp.response(200, MemberSchema)
def upsert_member(changes: members.MemberChanges, external_id: str) -> Any:
    member, _ = members.upsert_member(
        db.session(), request_actor(), current_partner_id(), external_id, changes, current_vault()
    )
    return member


@blp.route("/members/<external_id>")
@requires("members:read")
@blp.response(200, MemberSchema)
def get_member(external_id: str) -> Any:
    return members.find_member(db.session(), current_partner_id(), external_id)


@blp.route("/members/<external_id>/points", methods=["POST"])
@requires("members:write")
@idempotent
@blp.arguments(PointsMoveSchema())
@blp.response(201, PointsEntrySchema)
def move_points(move: members.PointsMove, external_id: str) -> Any:
    """Grant (optionally expiring) or deduct points. Deductions take the soonest-expiring first."""
    return members.move_points(db.session(), current_partner_id(), external_id, move)


@blp.route("/members/<external_id>/points/ledger")
@requires("members:read")
@blp.arguments(PageArgsSchema(), location="query")
@blp.response(200, page_schema(PointsEntrySchema))
def points_ledger(args: dict[str, Any], external_id: str) -> Any:
    session, partner_id = db.session(), current_partner_id()
    member = members.find_member(session, partner_id, external_id)
    return members.ledger(session, partner_id, member, args["limit"], args["cursor"])

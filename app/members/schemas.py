from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_load, validate

from app.core.money import StrictInteger
from app.core.pagination import PageArgsSchema
from app.core.validation import FullMatch
from app.members.models import (
    ENTRY_KINDS,
    EXTERNAL_MOVE_KINDS,
    EXTERNAL_MOVE_STATUSES,
    MEMBER_STATUSES,
)
from app.members.service import MemberChanges, PointsMove


class MemberUpsertSchema(Schema):
    display_name = fields.String(allow_none=True, validate=validate.Length(max=120))
    tier = fields.String(allow_none=True, validate=validate.Length(max=40))
    status = fields.String(validate=validate.OneOf(MEMBER_STATUSES))
    phone = fields.String(allow_none=True, validate=FullMatch(r"^1[3-9]\d{9}$"))
    email = fields.Email(
        allow_none=True,
        validate=validate.Length(max=254),
        metadata={"description": "where its notifications go when you chose e-mail"},
    )
    metadata = fields.Dict(attribute="extra", keys=fields.String(validate=validate.Length(max=64)))
    language = fields.String(
        allow_none=True,
        validate=validate.OneOf(("zh_CN", "en")),
        metadata={"description": "the language of the member's notifications"},
    )
    notifications = fields.Boolean(
        metadata={"description": "false: the member opted out of notifications"}
    )

    @post_load
    def make_changes(self, data: dict[str, Any], **_: Any) -> MemberChanges:
        return MemberChanges.of(data)


class MemberSchema(MemberUpsertSchema):
    email = fields.Email(
        attribute="email_masked",
        allow_none=True,
        metadata={"description": "masked (z***@example.com); stored encrypted"},
    )
    phone = fields.String(
        attribute="phone_masked",
        allow_none=True,
        metadata={"description": "masked (139****5678); stored encrypted"},
    )
    id = fields.String(dump_only=True)
    external_id = fields.String(dump_only=True)
    points_balance = fields.Integer(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class PointsMoveSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(("grant", "deduct")))
    amount = StrictInteger(required=True, validate=validate.Range(min=1, max=1_000_000_000))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))
    expires_at = fields.AwareDateTime(allow_none=True, load_default=None)

    @post_load
    def make_move(self, data: dict[str, Any], **_: Any) -> PointsMove:
        return PointsMove(**data)


class PointsEntrySchema(Schema):
    id = fields.String()
    kind = fields.String(metadata={"enum": list(ENTRY_KINDS)})
    delta = fields.Integer()
    balance_after = fields.Integer()
    reason = fields.String(allow_none=True)
    order_id = fields.String(allow_none=True)
    expires_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class PointsMovesQuerySchema(PageArgsSchema):
    date = fields.Date(
        load_default=None,
        metadata={"description": "your local day (YYYY-MM-DD); today when left out"},
    )
    member = fields.String(
        load_default=None, metadata={"description": "one member's moves only (external_id)"}
    )


class ExternalPointsMoveSchema(Schema):
    id = fields.String(metadata={"description": "the `request_id` we sent to your points service"})
    member = fields.Function(lambda move: move.member.external_id)
    kind = fields.String(metadata={"enum": list(EXTERNAL_MOVE_KINDS)})
    amount = fields.Integer()
    status = fields.String(
        metadata={
            "enum": list(EXTERNAL_MOVE_STATUSES),
            "description": "`pending`: sent, not yet acknowledged (retried until it is);"
            " `done`: applied by your service; `void`: never applied",
        }
    )
    order_id = fields.String()
    reason = fields.String(allow_none=True)
    attempts = fields.Integer()
    created_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)

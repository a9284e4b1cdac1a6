from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, fields, post_load

from app.members.schemas import MemberUpsertSchema
from app.members.service import MemberChanges


@dataclass(frozen=True)
class LaunchRequest:
    create: MemberChanges | None  # None: the member must exist


class LaunchRequestSchema(Schema):
    create_member = fields.Nested(
        MemberUpsertSchema,
        load_default=None,
        metadata={
            "description": "create the member on its first launch (with these fields) or"
            " update it; left out, a member not yet known answers 404 member_not_found"
        },
    )

    @post_load
    def make_request(self, data: dict[str, Any], **_: Any) -> LaunchRequest:
        return LaunchRequest(data.get("create_member"))


class LaunchSchema(Schema):
    url = fields.String(
        required=True,
        metadata={"description": "open it in the member's browser within a minute; it works once"},
    )
    expires_at = fields.DateTime(required=True)

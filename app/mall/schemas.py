from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, fields, post_load, validate

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


class LaunchKeyCreateSchema(Schema):
    kid = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=64), validate.Regexp(r"^[A-Za-z0-9._-]+$")],
        metadata={"description": "the `kid` your launch JWTs carry in their header"},
    )
    public_key = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(max=10_000),
        metadata={"description": "PEM public key: RSA (2048 bits or more, RS256) or EC P-256"},
    )


class LaunchKeySchema(Schema):
    id = fields.String(dump_only=True)
    kid = fields.String(dump_only=True)
    kty = fields.Function(lambda k: k.public_jwk.get("kty"), dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    revoked_at = fields.DateTime(dump_only=True, allow_none=True)


class LaunchKeyListSchema(Schema):
    data = fields.List(fields.Nested(LaunchKeySchema), required=True)


class JwksUrlSchema(Schema):
    url = fields.Url(
        required=True,
        allow_none=True,
        schemes={"https", "http"},
        require_tld=False,
        validate=validate.Length(max=500),
        metadata={
            "description": "where you publish the public keys of your signed launches (a JWKS:"
            " RSA of 2048 bits or more, or EC P-256, each with a kid); null: nowhere"
        },
    )


class JwksUrlSetSchema(Schema):
    url = fields.String(allow_none=True)
    kids = fields.List(fields.String(), metadata={"description": "the key ids it publishes now"})

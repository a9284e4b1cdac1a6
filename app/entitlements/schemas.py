from __future__ import annotations

from marshmallow import Schema, fields

from app.entitlements.models import ENTITLEMENT_STATUSES


class EntitlementSchema(Schema):
    id = fields.String()
    order_id = fields.String()
    product_id = fields.String()
    product = fields.Dict(attribute="snapshot")
    status = fields.String(metadata={"enum": list(ENTITLEMENT_STATUSES)})
    masked_code = fields.String(allow_none=True)
    valid_from = fields.DateTime()
    valid_until = fields.DateTime(allow_none=True)


class RevealSchema(Schema):
    entitlement_id = fields.String()
    code = fields.String()
    password = fields.String(allow_none=True)
    masked_code = fields.String()

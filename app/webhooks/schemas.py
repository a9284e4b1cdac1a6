from __future__ import annotations

from marshmallow import Schema, fields, validate

EVENT_TYPES = (
    "order.created",
    "order.fulfilled",
    "order.partially_fulfilled",
    "order.failed",
    "order.cancelled",
    "delivery.failed",
    "delivery.double_delivery",
    "entitlement.created",
    "entitlement.expired",
    "partner.balance_low",
    "invoice.issued",
    "stock.low",
    "supply.authorization_lapsed",
    "supplier.balance_low",
)


class EndpointCreateSchema(Schema):
    url = fields.URL(required=True, require_tld=False, validate=validate.Length(max=500))
    events = fields.List(
        fields.String(validate=validate.OneOf(EVENT_TYPES)),
        load_default=list,
        metadata={"description": "event types to receive; empty: all"},
    )


class EndpointSchema(Schema):
    id = fields.String()
    url = fields.String()
    events = fields.List(fields.String(), attribute="event_types")
    status = fields.String(metadata={"enum": ["active", "disabled", "deleted"]})
    created_at = fields.DateTime()
    disabled_at = fields.DateTime(allow_none=True)


class IssuedEndpointSchema(Schema):
    endpoint = fields.Nested(EndpointSchema)
    secret = fields.String(metadata={"description": "Shown only in this response; store it now."})


class WebhookDeliverySchema(Schema):
    id = fields.String()
    event_id = fields.String()
    status = fields.String(metadata={"enum": ["pending", "succeeded", "failed"]})
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_latency_ms = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.DateTime()


class ReplaySchema(Schema):
    deliveries = fields.Integer()

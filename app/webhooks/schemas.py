from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.webhooks.payloads import PAYLOADS, PING

# the types an endpoint may subscribe to (a ping goes to the endpoint it tests, whatever it wants)
EVENT_TYPES = tuple(event for event in PAYLOADS if event != PING)


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

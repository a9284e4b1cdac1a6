from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_load, validate

from app.core.money import MoneySchema, StrictInteger, money_field
from app.core.openapi import Computed
from app.core.pagination import PageArgsSchema
from app.core.validation import FullMatch, Metadata
from app.entitlements.schemas import EntitlementSchema
from app.fulfillment.models import DELIVERY_STATUSES
from app.orders.checkout import OrderLine, Payment, PlaceOrder, Total
from app.orders.models import CASE_KINDS, CASE_RESOLUTIONS, ORDER_STATUSES
from app.orders.risk import MemberContext
from app.supply.models import FULFILLMENT_TYPES


class OrderLineSchema(Schema):
    listing = fields.String(required=True, validate=validate.Length(max=40))
    quantity = StrictInteger(required=True, validate=validate.Range(min=1, max=100))
    recharge_account = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(max=128)
    )

    @post_load
    def make_line(self, data: dict[str, Any], **_: Any) -> OrderLine:
        return OrderLine(data["listing"], data["quantity"], data["recharge_account"])


class PaymentSchema(Schema):
    points = StrictInteger(load_default=0, validate=validate.Range(min=0))
    cash = fields.Nested(MoneySchema, allow_none=True, load_default=None)
    cash_payment_ref = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(max=120)
    )

    @post_load
    def make_payment(self, data: dict[str, Any], **_: Any) -> Payment:
        return Payment(**data)


class TotalSchema(Schema):
    points = StrictInteger(load_default=0, validate=validate.Range(min=0))
    cash = fields.Nested(MoneySchema, allow_none=True, load_default=None)

    @post_load
    def make_total(self, data: dict[str, Any], **_: Any) -> Total:
        return Total(**data)


# printable, no spaces at either end: a reference is matched exactly
REFERENCE_RE = r"^[!-~](?:[ -~]*[!-~])?$"


class OrderCreateSchema(Schema):
    member = fields.String(required=True, validate=validate.Length(min=1, max=128))
    items = fields.List(
        fields.Nested(OrderLineSchema), required=True, validate=validate.Length(min=1, max=20)
    )
    payment = fields.Nested(PaymentSchema, required=True)
    expected_total = fields.Nested(TotalSchema, allow_none=True, load_default=None)
    member_ip = fields.IP(
        allow_none=True, load_default=None, metadata={"description": "the member's IP address"}
    )
    device_id = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(min=1, max=128)
    )
    member_since = fields.Date(
        allow_none=True,
        load_default=None,
        metadata={"description": "when the member joined the partner's programme"},
    )
    client_reference = fields.String(
        load_default=None,
        validate=[validate.Length(min=1, max=64), FullMatch(REFERENCE_RE)],
        metadata={
            "description": "your own order number: unique per partner and kept forever; a"
            " second order with it answers 409 `client_reference_used` with the first's id"
        },
    )
    metadata = Metadata(load_default=dict)

    @post_load
    def make_command(self, data: dict[str, Any], **_: Any) -> PlaceOrder:
        return PlaceOrder(
            member_external_id=data["member"],
            lines=tuple(data["items"]),
            payment=data["payment"],
            expected_total=data["expected_total"],
            member_context=MemberContext(
                str(data["member_ip"]) if data["member_ip"] is not None else None,
                data["device_id"],
                data["member_since"],
            ),
            client_reference=data["client_reference"],
            metadata=data["metadata"],
        )


class DeliverySchema(Schema):
    id = fields.String()
    item_id = fields.String()
    product_id = fields.String()
    fulfillment_type = fields.String(metadata={"enum": list(FULFILLMENT_TYPES)})
    status = fields.String(metadata={"enum": list(DELIVERY_STATUSES)})
    delivered_at = fields.DateTime(allow_none=True)


class OrderItemSchema(Schema):
    id = fields.String()
    listing_id = fields.String()
    product_id = fields.String()
    quantity = fields.Integer()
    recharge_account = fields.String(allow_none=True)
    unit_points = fields.Integer()
    unit_cash = Computed(
        lambda i: {
            "amount": i.unit_cash_minor,
            "currency": i.snapshot["member_price"]["cash"]["currency"],
        },
        MoneySchema,
    )
    snapshot = fields.Dict()


class OrderTotalSchema(Schema):
    points = fields.Integer(required=True)
    cash = fields.Nested(MoneySchema, required=True)


class OrderSchema(Schema):
    id = fields.String()
    member = fields.Function(
        lambda o: o.member.external_id, metadata={"type": "string", "description": "external_id"}
    )
    status = fields.String(validate=validate.OneOf(ORDER_STATUSES))
    total = Computed(
        lambda o: {
            "points": o.points_total,
            "cash": {"amount": o.cash_total_minor, "currency": o.currency},
        },
        OrderTotalSchema,
    )
    wholesale_total = money_field("wholesale_total_minor")
    cash_payment_ref = fields.String(allow_none=True)
    member_ip = fields.String(allow_none=True)
    device_id = fields.String(allow_none=True)
    member_since = fields.Date(allow_none=True)
    client_reference = fields.String(allow_none=True)
    metadata = fields.Dict(attribute="extra", keys=fields.String(), values=fields.String())
    items = fields.List(fields.Nested(OrderItemSchema))
    deliveries = fields.List(fields.Nested(DeliverySchema))
    entitlements = fields.List(fields.Nested(EntitlementSchema))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class OrderSummarySchema(OrderSchema):
    class Meta:
        exclude = ("deliveries", "entitlements")


class OrderQuerySchema(PageArgsSchema):
    member = fields.String(load_default=None)
    client_reference = fields.String(load_default=None, validate=validate.Length(max=64))
    status = fields.String(load_default=None, validate=validate.OneOf(ORDER_STATUSES))
    product = fields.String(
        load_default=None,
        validate=validate.Length(max=40),
        metadata={"description": "orders with an item of this product (its id)"},
    )
    created_from = fields.AwareDateTime(load_default=None)
    created_to = fields.AwareDateTime(load_default=None)


class CaseCreateSchema(Schema):
    delivery_id = fields.String(
        required=True,
        validate=validate.Length(max=40),
        metadata={"description": "the delivered unit (a delivery of this order) the case is about"},
    )
    kind = fields.String(required=True, validate=validate.OneOf(CASE_KINDS))
    description = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class CaseSchema(Schema):
    id = fields.String(required=True)
    order_id = fields.String(required=True)
    delivery_id = fields.String(required=True)
    entitlement_id = fields.String(required=True, allow_none=True)
    kind = fields.String(required=True, validate=validate.OneOf(CASE_KINDS))
    description = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(("open", "resolved")))
    resolution = fields.String(
        required=True, allow_none=True, validate=validate.OneOf(CASE_RESOLUTIONS)
    )
    resolution_note = fields.String(required=True, allow_none=True)
    opened_at = fields.DateTime(required=True)
    first_response_due_at = fields.DateTime(required=True)
    resolution_due_at = fields.DateTime(required=True)
    first_responded_at = fields.DateTime(required=True, allow_none=True)
    resolved_at = fields.DateTime(required=True, allow_none=True)
    replacement_entitlement_id = fields.String(required=True, allow_none=True)
    replacement_delivery_id = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "a reissue's new delivery (a direct recharge: in flight until"
            " the supplier confirms; its entitlement follows)"
        },
    )


class CaseQuerySchema(PageArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(("open", "resolved")))

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.core.money import MoneySchema, StrictInteger, money_field
from app.orders.models import ORDER_STATUSES


class OrderLineSchema(Schema):
    listing = fields.String(required=True, validate=validate.Length(max=40))
    quantity = StrictInteger(required=True, validate=validate.Range(min=1, max=100))
    recharge_account = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(max=128)
    )


class PaymentSchema(Schema):
    points = StrictInteger(load_default=0, validate=validate.Range(min=0))
    cash = fields.Nested(MoneySchema, allow_none=True, load_default=None)
    cash_payment_ref = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(max=120)
    )


class TotalSchema(Schema):
    points = StrictInteger(load_default=0, validate=validate.Range(min=0))
    cash = fields.Nested(MoneySchema, allow_none=True, load_default=None)


class OrderCreateSchema(Schema):
    member = fields.String(required=True, validate=validate.Length(min=1, max=128))
    items = fields.List(
        fields.Nested(OrderLineSchema), required=True, validate=validate.Length(min=1, max=20)
    )
    payment = fields.Nested(PaymentSchema, required=True)
    expected_total = fields.Nested(TotalSchema, allow_none=True, load_default=None)


class DeliverySchema(Schema):
    id = fields.String()
    item_id = fields.String()
    product_id = fields.String()
    fulfillment_type = fields.String()
    status = fields.String()
    delivered_at = fields.DateTime(allow_none=True)


class EntitlementSchema(Schema):
    id = fields.String()
    order_id = fields.String()
    product_id = fields.String()
    product = fields.Dict(attribute="snapshot")
    status = fields.String()
    masked_code = fields.String(allow_none=True)
    valid_from = fields.DateTime()
    valid_until = fields.DateTime(allow_none=True)


class OrderItemSchema(Schema):
    id = fields.String()
    listing_id = fields.String()
    product_id = fields.String()
    quantity = fields.Integer()
    recharge_account = fields.String(allow_none=True)
    unit_points = fields.Integer()
    unit_cash = fields.Function(lambda i: {"amount": i.unit_cash_minor, "currency": "CNY"})
    snapshot = fields.Dict()


class OrderSchema(Schema):
    id = fields.String()
    member = fields.Function(lambda o: o.member.external_id)
    status = fields.String(validate=validate.OneOf(ORDER_STATUSES))
    total = fields.Function(
        lambda o: {
            "points": o.points_total,
            "cash": {"amount": o.cash_total_minor, "currency": o.currency},
        }
    )
    wholesale_total = money_field("wholesale_total_minor")
    cash_payment_ref = fields.String(allow_none=True)
    items = fields.List(fields.Nested(OrderItemSchema))
    deliveries = fields.List(fields.Nested(DeliverySchema))
    entitlements = fields.List(fields.Nested(EntitlementSchema))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class OrderSummarySchema(OrderSchema):
    class Meta:
        exclude = ("deliveries", "entitlements")


class OrderQuerySchema(Schema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.String(load_default=None)
    member = fields.String(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(ORDER_STATUSES))
    created_from = fields.AwareDateTime(load_default=None)
    created_to = fields.AwareDateTime(load_default=None)


class RevealSchema(Schema):
    entitlement_id = fields.String()
    code = fields.String()
    password = fields.String(allow_none=True)
    masked_code = fields.String()

from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.core.money import MoneySchema


class AccountSchema(Schema):
    partner_id = fields.String()
    balance = fields.Nested(MoneySchema)
    credit_limit = fields.Nested(MoneySchema)
    available = fields.Nested(MoneySchema)
    low_balance_threshold_minor = fields.Integer(allow_none=True)


class TopUpSchema(Schema):
    amount = fields.Nested(MoneySchema, required=True)
    reason = fields.String(load_default=None, validate=validate.Length(max=200))


class CreditLimitSchema(Schema):
    credit_limit = fields.Nested(MoneySchema, required=True)
    low_balance_threshold = fields.Nested(
        MoneySchema,
        allow_none=True,
        metadata={"description": "partner.balance_low when balance + credit falls below it"},
    )


class AccountEntrySchema(Schema):
    id = fields.String()
    kind = fields.String()
    amount = fields.Function(lambda e: {"amount": e.amount_minor, "currency": e.currency})
    balance_after = fields.Function(
        lambda e: {"amount": e.balance_after_minor, "currency": e.currency}
    )
    order_id = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    created_at = fields.DateTime()

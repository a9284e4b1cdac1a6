from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate

from app.core.money import PLATFORM_CURRENCY, LedgerMoneySchema, Money, MoneySchema, StrictInteger
from app.core.validation import validate_timezone


class BillingPlanSchema(Schema):
    """Fees on top of wholesale; rates in basis points (150 = 1.5 %)."""

    monthly_fee = fields.Nested(LedgerMoneySchema, load_default=None)
    per_order_fee = fields.Nested(MoneySchema, load_default=None)
    wholesale_fee_bp = StrictInteger(load_default=None, validate=validate.Range(0, 10_000))
    minimum_commitment = fields.Nested(LedgerMoneySchema, load_default=None)
    vat_rate_bp = StrictInteger(load_default=None, validate=validate.Range(0, 10_000))
    timezone = fields.String(load_default=None, validate=validate_timezone)

    @post_load
    def to_plan_fields(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """Only what was given, under the model's names (a PUT keeps what it does not name)."""
        out: dict[str, Any] = {}
        for name, value in data.items():
            if value is None:
                continue
            if isinstance(value, Money):
                if value.currency != PLATFORM_CURRENCY:
                    raise ValidationError({name: [f"Plans are in {PLATFORM_CURRENCY}."]})
                out[f"{name}_minor"] = value.amount
            else:
                out[name] = value
        return out

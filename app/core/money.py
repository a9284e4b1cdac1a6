"""Money: integer minor units plus an ISO 4217 currency. No floats, ever."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate

from app.core.openapi import Computed
from app.core.validation import FullMatch

CURRENCY_RE = r"^[A-Z]{3}$"


# What the platform books in: partner accounts, plans, supplier costs, settlement. A listing and
# an order carry their own currency (a listing's is its product's).
PLATFORM_CURRENCY = "CNY"


@dataclass(frozen=True, order=True)
class Money:
    amount: int
    currency: str = PLATFORM_CURRENCY

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise TypeError("Money.amount must be an int of minor units")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        return Money(self.amount * factor, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"currency mismatch: {self.currency} vs {other.currency}")

    def to_dict(self) -> dict[str, Any]:
        return {"amount": self.amount, "currency": self.currency}


# An integer a request writes lands in a PostgreSQL `integer` column unless it is an amount of
# a ledger (a partner account, a plan's fees, a cap on spend): those are `bigint`, and an amount
# stays far enough below its limit that balances and totals can add it up.
INTEGER_MAX = 2**31 - 1
LEDGER_MAX_MINOR = 10**15


class StrictInteger(fields.Integer):
    """An integer that refuses floats and numeric strings (1.0, "1"): amounts are exact. It is
    bounded by the column it is written to (`maximum`, either sign): an overflowing value is a
    422 here instead of a failed statement (a 500) on PostgreSQL."""

    def __init__(self, *args: Any, maximum: int = INTEGER_MAX, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.validators.append(
            validate.Range(min=-maximum, max=maximum, error="Must be between {min} and {max}.")
        )

    def _validated(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("Must be an integer.")
        return super()._validated(value)


class MoneySchema(Schema):
    amount = StrictInteger(required=True, strict=True, validate=validate.Range(min=0))
    currency = fields.String(load_default=PLATFORM_CURRENCY, validate=FullMatch(CURRENCY_RE))

    @post_load
    def make_money(self, data: dict[str, Any], **_: Any) -> Money:
        """A Money is whole even inside a partial (PATCH) load: no amount, no Money."""
        if "amount" not in data:
            raise ValidationError({"amount": ["Missing data for required field."]})
        return Money(data["amount"], data.get("currency", PLATFORM_CURRENCY))


class LedgerMoneySchema(MoneySchema):
    """Money written to a `bigint` ledger column (top-ups, credit limits, fees, caps)."""

    amount = StrictInteger(
        required=True, strict=True, validate=validate.Range(min=0), maximum=LEDGER_MAX_MINOR
    )


class SignedMoneySchema(MoneySchema):
    """Money that may be negative: a ledger entry (a charge), a balance on credit, a credit
    note's total, an adjustment."""

    amount = StrictInteger(required=True, strict=True, maximum=LEDGER_MAX_MINOR)


def money_field(attribute: str, signed: bool = False) -> fields.Function:
    """Dump an integer minor-units column as a Money object in the row's `currency`."""
    return Computed(
        lambda row: {"amount": getattr(row, attribute), "currency": row.currency},
        SignedMoneySchema if signed else MoneySchema,
    )

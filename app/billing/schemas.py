from __future__ import annotations

from datetime import date

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from app.accounts.models import ENTRY_KINDS
from app.billing.invoices import PERIOD_RE
from app.billing.margins import GROUPS
from app.billing.models import INVOICE_STATUSES
from app.billing.reconciliation import DISCREPANCIES
from app.core.money import (
    LedgerMoneySchema,
    MoneySchema,
    SignedMoneySchema,
    money_field,
)
from app.core.pagination import PageArgsSchema
from app.core.validation import FullMatch
from app.supply.models import FULFILLMENT_TYPES

DAYS = validate.Range(min=date(1970, 1, 2), max=date(2999, 12, 31))


class AccountSchema(Schema):
    partner_id = fields.String()
    balance = fields.Nested(SignedMoneySchema)
    credit_limit = fields.Nested(MoneySchema)
    available = fields.Nested(SignedMoneySchema)
    low_balance_threshold_minor = fields.Integer(allow_none=True)


class TopUpSchema(Schema):
    amount = fields.Nested(LedgerMoneySchema, required=True)
    reason = fields.String(load_default=None, validate=validate.Length(max=200))


class CreditLimitSchema(Schema):
    credit_limit = fields.Nested(LedgerMoneySchema, required=True)
    low_balance_threshold = fields.Nested(
        LedgerMoneySchema,
        allow_none=True,
        metadata={"description": "partner.balance_low when balance + credit falls below it"},
    )


class AccountEntrySchema(Schema):
    id = fields.String()
    kind = fields.String(metadata={"enum": list(ENTRY_KINDS)})
    amount = money_field("amount_minor", signed=True)
    balance_after = money_field("balance_after_minor", signed=True)
    order_id = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    actor = fields.String()
    created_at = fields.DateTime()


class AdjustmentSchema(Schema):
    amount = fields.Nested(
        SignedMoneySchema,
        required=True,
        metadata={"description": "positive: credited to the partner; negative: debited"},
    )
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class EntryQuerySchema(PageArgsSchema):
    kind = fields.String(load_default=None, validate=validate.OneOf(ENTRY_KINDS))


class BillingPlanOutSchema(Schema):
    partner_id = fields.String()
    monthly_fee = money_field("monthly_fee_minor")
    per_order_fee = money_field("per_order_fee_minor")
    wholesale_fee_bp = fields.Integer()
    minimum_commitment = money_field("minimum_commitment_minor")
    vat_rate_bp = fields.Integer()
    timezone = fields.String()


class InvoiceLineSchema(Schema):
    position = fields.Integer()
    kind = fields.String()
    description = fields.String()
    listing_id = fields.String(allow_none=True)
    quantity = fields.Integer(allow_none=True)
    unit_amount_minor = fields.Integer(allow_none=True)
    amount_minor = fields.Integer()


class InvoiceSchema(Schema):
    id = fields.String()
    number = fields.String()
    kind = fields.String(metadata={"enum": ["invoice", "credit_note"]})
    partner_id = fields.String()
    period = fields.String(metadata={"example": "2026-11"})
    revision = fields.Integer()
    period_start = fields.DateTime()
    period_end = fields.DateTime()
    timezone = fields.String()
    status = fields.String(metadata={"enum": list(INVOICE_STATUSES)})
    currency = fields.String()
    lines = fields.List(fields.Nested(InvoiceLineSchema))
    subtotal = money_field("subtotal_minor", signed=True)
    vat = money_field("vat_minor", signed=True)
    total = money_field("total_minor", signed=True)
    vat_rate_bp = fields.Integer()
    credited_invoice_id = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    due_on = fields.Date(allow_none=True, validate=DAYS)
    reason = fields.String(allow_none=True)
    payment_ref = fields.String(allow_none=True)
    issued_at = fields.DateTime(allow_none=True)
    paid_at = fields.DateTime(allow_none=True)
    voided_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class InvoiceQuerySchema(PageArgsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(INVOICE_STATUSES))
    period = fields.String(load_default=None, validate=FullMatch(PERIOD_RE))


class PlatformInvoiceQuerySchema(InvoiceQuerySchema):
    partner_id = fields.String(load_default=None, validate=validate.Length(max=40))


class InvoiceFormatSchema(Schema):
    format = fields.String(
        load_default=None,
        validate=validate.OneOf(("json", "csv", "pdf")),
        metadata={
            "description": "Overrides the Accept header (application/json, text/csv, "
            "application/pdf)."
        },
    )


class InvoiceGenerateSchema(Schema):
    month = fields.String(
        required=True,
        validate=FullMatch(PERIOD_RE, error="Expected YYYY-MM, e.g. 2026-11."),
    )


class InvoiceUpdateSchema(Schema):
    notes = fields.String(allow_none=True, validate=validate.Length(max=500))
    due_on = fields.Date(allow_none=True, validate=DAYS)


class VoidSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class InvoicePaymentSchema(Schema):
    payment_ref = fields.String(required=True, validate=validate.Length(min=1, max=120))


class CreditNoteSchema(Schema):
    amount = fields.Nested(
        LedgerMoneySchema, required=True, metadata={"description": "before VAT (VAT is added)"}
    )
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class RangeSchema(Schema):
    from_ = fields.Date(
        required=True,
        data_key="from",
        validate=DAYS,
        metadata={"description": "first day (Asia/Shanghai)"},
    )
    to = fields.Date(
        required=True, validate=DAYS, metadata={"description": "day after the last (exclusive)"}
    )


class MarginQuerySchema(RangeSchema):
    group_by = fields.String(load_default="partner", validate=validate.OneOf(GROUPS))


class ReconcileArgsSchema(Schema):
    from_ = fields.Date(
        load_default=None,
        data_key="from",
        validate=DAYS,
        metadata={"description": "default: the statement's first completed_at day"},
    )
    to = fields.Date(
        load_default=None,
        validate=DAYS,
        metadata={"description": "exclusive; default: last day + 1"},
    )


class StatementFormSchema(Schema):
    file = Upload(required=True, metadata={"description": "the supplier's statement (CSV)"})


class SettlementLineSchema(Schema):
    offer_id = fields.String(allow_none=True)
    product_id = fields.String()
    product_name = fields.String(allow_none=True)
    fulfillment_type = fields.String(metadata={"enum": list(FULFILLMENT_TYPES)})
    unit_cost_minor = fields.Integer()
    units = fields.Integer()
    amount_minor = fields.Integer()


class LateSuccessSchema(Schema):
    delivery_id = fields.String()
    partner_id = fields.String()
    supplier_order_no = fields.String(allow_none=True)
    kind = fields.String(
        metadata={
            "enum": ["late_success", "double_delivery"],
            "description": "late_success: after we refunded or moved on; double_delivery: "
            "another supplier delivered the unit too",
        }
    )
    cost_minor = fields.Integer(allow_none=True)


class SettlementSchema(Schema):
    supplier_id = fields.String()
    supplier_name = fields.String()
    from_ = fields.DateTime(data_key="from")
    to = fields.DateTime()
    currency = fields.String()
    lines = fields.List(fields.Nested(SettlementLineSchema))
    late_successes = fields.List(fields.Nested(LateSuccessSchema))
    delivered_minor = fields.Integer()
    late_successes_minor = fields.Integer()
    total_minor = fields.Integer()


class ReconciliationItemSchema(Schema):
    kind = fields.String(metadata={"enum": ["matched", *DISCREPANCIES]})
    line = fields.Integer(allow_none=True)
    reference = fields.String(allow_none=True)
    supplier_order_no = fields.String(allow_none=True)
    delivery_id = fields.String(allow_none=True)
    partner_id = fields.String(allow_none=True)
    their_status = fields.String(allow_none=True)
    our_status = fields.String(allow_none=True)
    their_amount_minor = fields.Integer(allow_none=True)
    our_amount_minor = fields.Integer(allow_none=True)
    note = fields.String(allow_none=True)


class ReconciliationSchema(Schema):
    id = fields.String()
    supplier_id = fields.String()
    period_start = fields.DateTime()
    period_end = fields.DateTime()
    source_name = fields.String(allow_none=True)
    row_count = fields.Integer()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    their_total_minor = fields.Integer()
    our_total_minor = fields.Integer()
    created_by = fields.String()
    created_at = fields.DateTime()
    items = fields.List(fields.Nested(ReconciliationItemSchema))


class ReconciliationSummarySchema(ReconciliationSchema):
    class Meta:
        exclude = ("items",)


class MarginRowSchema(Schema):
    key = fields.String()
    label = fields.String()
    units_delivered = fields.Integer()
    units_in_flight = fields.Integer()
    wholesale_minor = fields.Integer()
    fees_minor = fields.Integer()
    revenue_minor = fields.Integer()
    cost_minor = fields.Integer()
    margin_minor = fields.Integer()
    margin_bp = fields.Integer(allow_none=True)


class MarginTotalsSchema(MarginRowSchema):
    class Meta:
        exclude = ("key", "label")


class MarginReportSchema(Schema):
    group_by = fields.String()
    from_ = fields.DateTime(data_key="from")
    to = fields.DateTime()
    currency = fields.String()
    rows = fields.List(fields.Nested(MarginRowSchema))
    totals = fields.Nested(MarginTotalsSchema)

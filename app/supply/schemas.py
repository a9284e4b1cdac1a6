from __future__ import annotations

from marshmallow import Schema, fields, validate

from app.core.money import LEDGER_MAX_MINOR, MoneySchema, StrictInteger
from app.core.pagination import LiveOrSandboxArgsSchema, PageArgsSchema
from app.core.validation import LocalizedText
from app.supply.models import (
    ACCOUNT_KINDS,
    CATEGORIES,
    FULFILLMENT_TYPES,
    OFFER_STATUSES,
    PRODUCT_STATUSES,
    SUPPLIER_STATUSES,
)


class SupplierSchema(Schema):
    id = fields.String(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    contact_name = fields.String(allow_none=True, validate=validate.Length(max=120))
    contact_email = fields.Email(allow_none=True)
    contact_phone = fields.String(allow_none=True, validate=validate.Length(max=40))
    api_base_url = fields.URL(allow_none=True, require_tld=False)
    credentials = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        load_only=True,
        metadata={"description": "API credentials; stored encrypted, never returned"},
    )
    has_credentials = fields.Function(
        lambda s: s.credentials_blob is not None, dump_only=True, metadata={"type": "boolean"}
    )
    low_balance_threshold_minor = StrictInteger(
        allow_none=True, validate=validate.Range(min=0), maximum=LEDGER_MAX_MINOR
    )
    balance_minor = fields.Integer(dump_only=True, allow_none=True)
    balance_checked_at = fields.DateTime(dump_only=True, allow_none=True)
    status = fields.String(load_default="active", validate=validate.OneOf(SUPPLIER_STATUSES))
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class AuthorizationSchema(Schema):
    id = fields.String(dump_only=True)
    supplier_id = fields.String(dump_only=True)
    brand = fields.String(required=True, validate=validate.Length(min=1, max=80))
    grantor = fields.String(required=True, validate=validate.Length(min=1, max=200))
    scope_brands = fields.List(fields.String(), load_default=list)
    scope_categories = fields.List(
        fields.String(validate=validate.OneOf(CATEGORIES)), load_default=list
    )
    region = fields.String(load_default="CN", validate=validate.Length(max=60))
    is_exclusive = fields.Boolean(load_default=False)
    valid_from = fields.Date(required=True)
    valid_until = fields.Date(required=True)
    contract_ref = fields.String(required=True, validate=validate.Length(min=1, max=120))
    revoked = fields.Function(
        lambda a: a.revoked_at is not None, dump_only=True, metadata={"type": "boolean"}
    )
    created_at = fields.DateTime(dump_only=True)


class AuthorizationUpdateSchema(AuthorizationSchema):
    revoked = fields.Boolean()  # type: ignore[assignment]  # writable here


class AuthorizationQuerySchema(PageArgsSchema):
    supplier = fields.String(load_default=None)
    brand = fields.String(load_default=None)
    expiring_within_days = fields.Integer(
        load_default=None, validate=validate.Range(min=0, max=3650)
    )


class ComponentSchema(Schema):
    product = fields.String(required=True, attribute="component_id")
    quantity = StrictInteger(load_default=1, validate=validate.Range(min=1, max=100))


class ProductSchema(Schema):
    id = fields.String(dump_only=True)
    brand = fields.String(required=True, validate=validate.Length(min=1, max=80))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    fulfillment_type = fields.String(required=True, validate=validate.OneOf(FULFILLMENT_TYPES))
    face_value = fields.Nested(MoneySchema, required=True)
    validity_days = StrictInteger(
        allow_none=True, load_default=None, validate=validate.Range(min=1, max=3660)
    )
    description = fields.String(allow_none=True, load_default=None)
    instructions = LocalizedText(load_default=dict)
    terms = LocalizedText(load_default=dict)
    image_url = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=500))
    status = fields.String(load_default="active", validate=validate.OneOf(PRODUCT_STATUSES))
    recharge_account_kind = fields.String(
        allow_none=True, load_default=None, validate=validate.OneOf(ACCOUNT_KINDS)
    )
    stock_capacity = StrictInteger(
        allow_none=True, load_default=None, validate=validate.Range(min=0)
    )
    low_stock_threshold = StrictInteger(
        allow_none=True, load_default=None, validate=validate.Range(min=0)
    )
    components = fields.List(
        fields.Nested(ComponentSchema), metadata={"description": "bundles only: its products"}
    )
    is_bundle = fields.Boolean(dump_only=True)
    is_authorized = fields.Boolean(
        dump_only=True, metadata={"description": "a valid authorization covers it today"}
    )
    is_low_stock = fields.Boolean(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class ProductQuerySchema(LiveOrSandboxArgsSchema):
    brand = fields.String(load_default=None)
    category = fields.String(load_default=None)
    fulfillment_type = fields.String(load_default=None, validate=validate.OneOf(FULFILLMENT_TYPES))
    status = fields.String(load_default=None, validate=validate.OneOf(PRODUCT_STATUSES))
    is_authorized = fields.Boolean(load_default=None)


class OfferSchema(Schema):
    id = fields.String(dump_only=True)
    product_id = fields.String(dump_only=True)
    supplier_id = fields.String(required=True)
    supplier_sku = fields.String(required=True, validate=validate.Length(min=1, max=120))
    cost = fields.Nested(MoneySchema, required=True)
    priority = StrictInteger(load_default=100, validate=validate.Range(min=0, max=10000))
    status = fields.String(load_default="active", validate=validate.OneOf(OFFER_STATUSES))
    created_at = fields.DateTime(dump_only=True)


class OfferUpdateSchema(OfferSchema):
    """PATCH body (load with partial=True); the supplier of an offer is fixed."""

    class Meta:
        exclude = ("supplier_id",)


class CodeBatchSchema(Schema):
    id = fields.String(dump_only=True)
    product_id = fields.String(dump_only=True)
    offer_id = fields.String(dump_only=True, allow_none=True)
    source_name = fields.String(dump_only=True, allow_none=True)
    code_count = fields.Integer(dump_only=True)
    status = fields.String(dump_only=True)
    imported_by = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    voided_at = fields.DateTime(dump_only=True, allow_none=True)
    counts = fields.Dict(keys=fields.String(), values=fields.Integer(), dump_only=True)


class CodeImportFormSchema(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class CodeImportArgsSchema(Schema):
    offer = fields.String(
        required=True, metadata={"description": "ofr_… of this product the codes were bought under"}
    )


class BatchQuerySchema(PageArgsSchema):
    product = fields.String(load_default=None)


class AllocationCreateSchema(Schema):
    partner_id = fields.String(required=True)
    quantity = StrictInteger(required=True, validate=validate.Range(min=1, max=1_000_000))
    is_exclusive = fields.Boolean(load_default=False)


class AllocationSchema(Schema):
    id = fields.String(dump_only=True)
    product_id = fields.String(dump_only=True)
    partner_id = fields.String(dump_only=True)
    quantity = fields.Integer(dump_only=True)
    is_exclusive = fields.Boolean(dump_only=True)
    status = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    released_at = fields.DateTime(dump_only=True, allow_none=True)


class StockAllocationSchema(Schema):
    allocation_id = fields.String()
    partner_id = fields.String()
    is_exclusive = fields.Boolean()
    available = fields.Integer()


class StockSchema(Schema):
    product_id = fields.String()
    unlimited = fields.Boolean()
    available = fields.Integer(allow_none=True)
    shared = fields.Integer(allow_none=True)
    allocations = fields.List(fields.Nested(StockAllocationSchema))


class SupplierStatsQuerySchema(Schema):
    window_hours = fields.Integer(load_default=24, validate=validate.Range(min=1, max=24 * 90))


class SupplierStatsSchema(Schema):
    supplier_id = fields.String()
    since = fields.DateTime()
    deliveries = fields.Integer()
    delivered = fields.Integer()
    failovers = fields.Integer()
    pending = fields.Integer()
    success_rate = fields.Float(allow_none=True)
    latency_ms_p50 = fields.Float(allow_none=True)
    latency_ms_p95 = fields.Float(allow_none=True)

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marshmallow import Schema, fields, post_load, validate

from app.auth.models import CLIENT_KINDS, PARTNER_SCOPES
from app.core.audit import AuditFilter
from app.core.money import LEDGER_MAX_MINOR, MoneySchema, StrictInteger
from app.core.openapi import Computed
from app.core.pagination import PageArgsSchema
from app.core.validation import FullMatch, LocalizedText, validate_timezone
from app.partners.listings import CATALOG_SORTS, ListingTerms
from app.partners.models import (
    NOTIFICATION_CHANNELS,
    NOTIFICATION_KINDS,
    PARTNER_KINDS,
    PARTNER_STATUSES,
    POINTS_SOURCES,
)
from app.supply.models import ACCOUNT_KINDS, FULFILLMENT_TYPES

SLUG_RE = r"^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$"
COLOR_RE = r"^#[0-9a-fA-F]{6}$"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOST_RE = rf"^{_LABEL}(?:\.{_LABEL})+$"  # a lower-case host name of two labels or more


MALL_FONTS = ("sans", "serif", "rounded")
MALL_HOME_LAYOUTS = ("grid", "list")


class ContentBlockSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=60))
    body = fields.String(required=True, validate=validate.Length(min=1, max=500))


class BrandingSchema(Schema):
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    logo_url = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))
    primary_color = fields.String(required=True, validate=FullMatch(COLOR_RE))
    accent_color = fields.String(required=True, validate=FullMatch(COLOR_RE))
    tagline = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    return_url = fields.Url(
        load_default=None,
        allow_none=True,
        schemes={"https", "http"},
        validate=validate.Length(max=500),
        metadata={"description": 'where the mall\'s "back to the app" link goes'},
    )
    font = fields.String(
        load_default="sans",
        validate=validate.OneOf(MALL_FONTS),
        metadata={"description": "the mall's typeface family: sans, serif or rounded"},
    )
    home_layout = fields.String(
        load_default="grid",
        validate=validate.OneOf(MALL_HOME_LAYOUTS),
        metadata={"description": "the home page's listings: a grid of cards, or a list"},
    )
    announcement = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=300),
        metadata={"description": "a notice across the top of the mall's home page"},
    )
    blocks = fields.List(
        fields.Nested(ContentBlockSchema),
        load_default=list,
        validate=validate.Length(max=6),
        metadata={"description": "the partner's own content on the mall's home page"},
    )


class PointsRateSchema(Schema):
    points = StrictInteger(required=True, validate=validate.Range(min=1))
    value = fields.Nested(MoneySchema, required=True)


class PointsSchema(Schema):
    unit_name = fields.String(required=True, validate=validate.Length(min=1, max=40))
    rate = fields.Nested(PointsRateSchema, required=True)
    source = fields.String(
        load_default="internal",
        validate=validate.OneOf(POINTS_SOURCES),
        metadata={
            "description": "`external`: the partner keeps its members' points in its own ledger;"
            " checkout deducts (and refunds) them through the partner's points service"
        },
    )


class NotificationsSchema(Schema):
    channel = fields.String(
        load_default="sms",
        validate=validate.OneOf(NOTIFICATION_CHANNELS),
        metadata={
            "description": "`sms`: we text members; `email`: we mail them; `webhook`: you get"
            " `notification.*` events"
            " with the text and send it yourselves; `off`"
        },
    )
    templates = fields.Dict(
        keys=fields.String(validate=validate.OneOf(NOTIFICATION_KINDS)),
        values=fields.Dict(
            keys=fields.String(validate=validate.OneOf(("zh_CN", "en"))),
            values=fields.String(validate=validate.Length(min=1, max=300)),
        ),
        load_default=dict,
        metadata={"description": "your own wording per kind and language (Jinja2 text)"},
    )


class PartnerSchema(Schema):
    id = fields.String(dump_only=True)
    slug = fields.String(required=True, validate=FullMatch(SLUG_RE))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(PARTNER_KINDS))
    status = fields.String(load_default="active", validate=validate.OneOf(PARTNER_STATUSES))
    branding = fields.Nested(BrandingSchema, required=True)
    points = fields.Nested(PointsSchema, required=True)
    notifications = fields.Nested(NotificationsSchema, load_default=lambda: {"channel": "sms"})
    timezone = fields.String(load_default="Asia/Shanghai", validate=validate_timezone)
    region = fields.String(
        load_default="CN",
        validate=validate.Length(min=1, max=60),
        metadata={"description": "where its members are; authorizations are checked against it"},
    )
    price_floor_bp = StrictInteger(
        load_default=8000,
        validate=validate.Range(min=0, max=100_000),
        metadata={
            "description": "the lowest member price partner staff may set, as basis points of"
            " the listing's wholesale price (points valued at the partner's rate, plus cash)"
        },
    )
    mall_host = fields.String(
        load_default=None,
        allow_none=True,
        validate=[validate.Length(max=255), FullMatch(HOST_RE)],
        metadata={
            "description": "the partner's own host name for its mall (lower case, no port);"
            " its DNS and TLS point at the platform"
        },
    )
    sandbox_of_id = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "set on a sandbox (test-mode) partner: the live partner it is the"
            " twin of; its data never mixes with the live partner's"
        },
    )
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class PartnerUpdateSchema(PartnerSchema):
    """PATCH body: any subset of the fields (load it with `partial=True`); the slug is fixed."""

    class Meta:
        exclude = ("slug",)


class ClientCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    scopes = fields.List(fields.String(validate=validate.OneOf(PARTNER_SCOPES)), load_default=None)


class ClientSchema(Schema):
    id = fields.String(dump_only=True)
    kind = fields.String(dump_only=True, validate=validate.OneOf(CLIENT_KINDS))
    partner_id = fields.String(dump_only=True, allow_none=True)
    name = fields.String(dump_only=True)
    scopes = fields.Function(
        lambda c: c.scope.split(),
        dump_only=True,
        metadata={"type": "array", "items": {"type": "string"}},
    )
    status = fields.String(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    revoked_at = fields.DateTime(dump_only=True, allow_none=True)


class IssuedClientSchema(Schema):
    client = fields.Nested(ClientSchema, dump_only=True)
    client_secret = fields.String(
        attribute="secret",
        dump_only=True,
        metadata={"description": "Shown only in this response; store it now."},
    )


class RotateSchema(Schema):
    grace_seconds = StrictInteger(load_default=0, validate=validate.Range(min=0, max=7 * 24 * 3600))


class PriceSchema(Schema):
    points = StrictInteger(load_default=0, validate=validate.Range(min=0))
    cash = StrictInteger(load_default=0, validate=validate.Range(min=0))


class ListingSchema(Schema):
    """Platform view of a listing (prices in points and CNY minor units)."""

    id = fields.String(dump_only=True)
    partner_id = fields.String(dump_only=True)
    product_id = fields.String(required=True)
    price_points = StrictInteger(load_default=0, validate=validate.Range(min=0))
    price_cash_minor = StrictInteger(load_default=0, validate=validate.Range(min=0))
    wholesale_minor = StrictInteger(required=True, validate=validate.Range(min=0))
    tier_prices = fields.Dict(
        keys=fields.String(), values=fields.Nested(PriceSchema), load_default=dict
    )
    sale_points = StrictInteger(allow_none=True, load_default=None, validate=validate.Range(min=0))
    sale_cash_minor = StrictInteger(
        allow_none=True, load_default=None, validate=validate.Range(min=0)
    )
    sale_starts_at = fields.AwareDateTime(allow_none=True, load_default=None)
    sale_ends_at = fields.AwareDateTime(allow_none=True, load_default=None)
    max_per_order = StrictInteger(load_default=5, validate=validate.Range(min=1, max=100))
    member_monthly_units = StrictInteger(
        allow_none=True,
        load_default=None,
        validate=validate.Range(min=1),
        metadata={"description": "units one member may buy a month; null: no listing cap"},
    )
    is_visible = fields.Boolean(load_default=True)
    sort_order = StrictInteger(load_default=100)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)

    @post_load
    def make_terms(self, data: dict[str, Any], **_: Any) -> NewListing:
        return NewListing(data.pop("product_id"), ListingTerms.of(data))


@dataclass(frozen=True)
class NewListing:
    product_id: str
    terms: ListingTerms


class ListingUpdateSchema(ListingSchema):
    class Meta:
        exclude = ("product_id",)

    @post_load
    def make_terms(self, data: dict[str, Any], **_: Any) -> ListingTerms:
        return ListingTerms.of(data)


class QuotaSchema(Schema):
    monthly_spend_cap_minor = StrictInteger(
        allow_none=True, validate=validate.Range(min=0), maximum=LEDGER_MAX_MINOR
    )
    listing_daily_units = StrictInteger(allow_none=True, validate=validate.Range(min=0))
    member_listing_daily_units = StrictInteger(allow_none=True, validate=validate.Range(min=0))
    member_listing_monthly_units = StrictInteger(allow_none=True, validate=validate.Range(min=0))
    member_daily_orders = StrictInteger(allow_none=True, validate=validate.Range(min=0))


class UsageSchema(Schema):
    day = fields.String()
    month = fields.String()
    monthly_spend = fields.Dict()
    limits = fields.Nested(QuotaSchema)


class CatalogQuerySchema(PageArgsSchema):
    category = fields.String(load_default=None)
    brand = fields.String(load_default=None)
    q = fields.String(load_default=None, validate=validate.Length(max=100))
    fulfillment_type = fields.String(load_default=None, validate=validate.OneOf(FULFILLMENT_TYPES))
    in_stock = fields.Boolean(load_default=None)
    member = fields.String(
        load_default=None, metadata={"description": "external_id: show this member's price"}
    )
    sort = fields.String(
        load_default="newest",
        validate=validate.OneOf(CATALOG_SORTS),
        metadata={"description": "newest; price_asc / price_desc (list price); name"},
    )


class CatalogDetailQuerySchema(Schema):
    member = fields.String(load_default=None)


class CatalogPriceSchema(Schema):
    points = fields.Integer()
    cash = fields.Nested(MoneySchema)
    source = fields.String(metadata={"description": "list | tier | sale"})


class CatalogEntrySchema(Schema):
    """A partner's sellable listing, as its members see it."""

    id = fields.String()
    product_id = fields.String()
    name = fields.String()
    brand = fields.String()
    category = fields.String()
    fulfillment_type = fields.String(metadata={"enum": list(FULFILLMENT_TYPES)})
    recharge_account_kind = fields.String(
        allow_none=True, metadata={"enum": [*ACCOUNT_KINDS, None]}
    )
    face_value = fields.Nested(MoneySchema)
    validity_days = fields.Integer(allow_none=True)
    description = fields.String(allow_none=True)
    instructions = LocalizedText(
        metadata={"description": "how to redeem it, per locale (zh-CN, en)"}
    )
    terms = LocalizedText(metadata={"description": "its terms and conditions, per locale"})
    image_url = fields.String(allow_none=True)
    is_bundle = fields.Boolean()
    price = fields.Nested(CatalogPriceSchema)
    wholesale_price = fields.Nested(MoneySchema)
    max_per_order = fields.Integer()
    member_monthly_units = fields.Integer(
        allow_none=True, metadata={"description": "units one member may buy a month; null: any"}
    )
    available = fields.Integer(
        allow_none=True,
        metadata={"description": "null: unlimited; exact below 1000, reads 1000 at or above it"},
    )
    in_stock = fields.Boolean()


class FacetSchema(Schema):
    """One value of a catalog facet (a category, a brand) and how many listings have it."""

    name = fields.String(required=True)
    listings = fields.Integer(required=True)


class FacetListSchema(Schema):
    data = fields.List(fields.Nested(FacetSchema), required=True)


class ProductRefSchema(Schema):
    brand = fields.String(required=True)
    name = fields.String(required=True)


class ListingFileSchema(Schema):
    """A listing as declared in partners/<slug>/partner.yaml (products named by brand + name)."""

    product = fields.Nested(ProductRefSchema, required=True)
    price_points = StrictInteger(data_key="points", load_default=0, validate=validate.Range(min=0))
    price_cash_minor = StrictInteger(
        data_key="cash", load_default=0, validate=validate.Range(min=0)
    )
    wholesale_minor = StrictInteger(
        data_key="wholesale", required=True, validate=validate.Range(min=0)
    )
    tier_prices = fields.Dict(
        keys=fields.String(), values=fields.Nested(PriceSchema), load_default=dict
    )
    max_per_order = StrictInteger(load_default=5, validate=validate.Range(min=1, max=100))
    member_monthly_units = StrictInteger(load_default=None, validate=validate.Range(min=1))
    is_visible = fields.Boolean(load_default=True)
    sort_order = StrictInteger(load_default=100)


class AuditActorSchema(Schema):
    kind = fields.String(
        required=True, metadata={"description": "client | staff | member | cli | system"}
    )
    id = fields.String(required=True)


class AuditTargetSchema(Schema):
    type = fields.String(required=True)
    id = fields.String(required=True)


class AuditEventSchema(Schema):
    id = fields.String(required=True)
    occurred_at = fields.DateTime(required=True)
    actor = Computed(
        lambda row: {"kind": row.actor_kind, "id": row.actor_id},
        AuditActorSchema,
        required=True,
    )
    action = fields.String(required=True, metadata={"example": "order.created"})
    target = Computed(
        lambda row: {"type": row.target_type, "id": row.target_id},
        AuditTargetSchema,
        required=True,
    )
    before = fields.Dict(allow_none=True, required=True)
    after = fields.Dict(allow_none=True, required=True)
    ip = fields.String(allow_none=True, required=True)
    request_id = fields.String(allow_none=True, required=True)


class AuditQuerySchema(PageArgsSchema):
    action = fields.String(
        load_default=None,
        validate=validate.Length(max=80),
        metadata={"description": 'an action ("order.created"), or a prefix ending in "."'},
    )
    actor_id = fields.String(load_default=None, validate=validate.Length(max=80))
    target_id = fields.String(load_default=None, validate=validate.Length(max=80))
    from_ = fields.AwareDateTime(load_default=None, data_key="from")
    to = fields.AwareDateTime(load_default=None, metadata={"description": "exclusive"})

    @post_load
    def make_filter(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        where = AuditFilter(
            data.pop("action"),
            data.pop("actor_id"),
            data.pop("target_id"),
            data.pop("from_"),
            data.pop("to"),
        )
        return {**data, "where": where}

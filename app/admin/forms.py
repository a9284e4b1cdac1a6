"""The portal's forms (Flask-WTF: every posted form carries its CSRF token)."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    DecimalField,
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
)

from app.orders.models import ORDER_STATUSES
from app.partners.models import PARTNER_KINDS
from app.supply.models import OFFER_STATUSES, PRODUCT_STATUSES


class SignInForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    next = HiddenField()


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code from your authenticator app, or a recovery code"),
        validators=[DataRequired(), Length(max=20)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "text", "autofocus": True},
    )


class EnrollForm(FlaskForm):
    secret = HiddenField(validators=[DataRequired(), Length(max=64)])
    code = StringField(
        _l("6-digit code shown by the app"),
        validators=[DataRequired(), Length(min=6, max=6)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class LanguageForm(FlaskForm):
    locale = HiddenField(validators=[DataRequired()])
    next = HiddenField()


class OrderSearchForm(FlaskForm):
    """Read from the query string (a search changes nothing: no CSRF token)."""

    class Meta:
        csrf = False

    order_id = StringField(_l("Order id"), validators=[Optional(), Length(max=40)])
    member = StringField(_l("Member (external id)"), validators=[Optional(), Length(max=128)])
    client_reference = StringField(_l("Your reference"), validators=[Optional(), Length(max=64)])
    status = SelectField(
        _l("Status"),
        choices=[SelectChoice("", _l("Any status"))] + [SelectChoice(s) for s in ORDER_STATUSES],
        validators=[Optional()],
    )
    product = SelectField(_l("Product"), validators=[Optional()])
    created_from = DateField(_l("From"), validators=[Optional()])
    created_to = DateField(_l("To (inclusive)"), validators=[Optional()])


class MemberSearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("External id or phone"), validators=[Optional(), Length(max=128)])


class InviteForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    role = SelectField(_l("Role"), validators=[DataRequired()])


class PasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password (at least 12 characters)"),
        validators=[DataRequired(), Length(min=12, max=200)],
        render_kw={"autocomplete": "new-password"},
    )


class ResetRequestForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Email(), Length(max=254)])


class AuditSearchForm(FlaskForm):
    class Meta:
        csrf = False

    action = StringField(
        _l("Action (or a prefix ending in a dot)"), validators=[Optional(), Length(max=80)]
    )
    actor_id = StringField(_l("Actor id"), validators=[Optional(), Length(max=80)])
    target_id = StringField(_l("Target id"), validators=[Optional(), Length(max=80)])
    occurred_from = DateField(_l("From"), validators=[Optional()])
    occurred_to = DateField(_l("To (inclusive)"), validators=[Optional()])


class AdjustPointsForm(FlaskForm):
    delta = IntegerField(
        _l("Points (negative to deduct)"),
        validators=[DataRequired(), NumberRange(min=-1_000_000_000, max=1_000_000_000)],
    )
    reason = StringField(_l("Reason"), validators=[DataRequired(), Length(max=200)])


class NewClientForm(FlaskForm):
    name = StringField(_l("Client name"), validators=[DataRequired(), Length(max=120)])
    sandbox = BooleanField(_l("Sandbox (test mode) client"))


class NewEndpointForm(FlaskForm):
    url = URLField(_l("HTTPS URL"), validators=[DataRequired(), Length(max=500)])


class GrantFileForm(FlaskForm):
    file = FileField(
        _l("CSV file: external_id,amount,expires_at,reason"),
        validators=[FileRequired()],
    )


class OpenCaseForm(FlaskForm):
    delivery_id = HiddenField(validators=[DataRequired(), Length(max=40)])
    kind = SelectField(
        _l("Problem"),
        choices=[
            SelectChoice("code_not_working", _l("The code does not work")),
            SelectChoice("recharge_not_received", _l("The recharge never arrived")),
            SelectChoice("other", _l("Something else")),
        ],
    )
    description = StringField(
        _l("What the member says"), validators=[DataRequired(), Length(max=1000)]
    )


class ResolveCaseForm(FlaskForm):
    resolution = HiddenField(validators=[DataRequired()])  # the button pressed
    note = StringField(
        _l("Note (the reason, for the record)"), validators=[DataRequired(), Length(max=1000)]
    )


class CodeBatchForm(FlaskForm):
    offer_id = SelectField(_l("Product and offer"), validators=[DataRequired()])
    file = FileField(_l("CSV file: code[,password][,expires_at]"), validators=[FileRequired()])


class ThresholdForm(FlaskForm):
    threshold = IntegerField(
        _l("Alert when the available balance falls below (yuan; empty: no alert)"),
        validators=[Optional(), NumberRange(min=0, max=10_000_000_000)],
    )
    recipients = TextAreaField(
        _l("Mail the alert to (one address per line; at most one mail a day)"),
        validators=[Optional(), Length(max=2_600)],
    )


class TopUpRequestForm(FlaskForm):
    amount = DecimalField(
        _l("Amount sent (yuan)"),
        places=2,
        validators=[DataRequired(), NumberRange(min=Decimal("0.01"), max=10_000_000_000)],
    )
    payment_reference = StringField(
        _l("Transfer reference (from your bank)"), validators=[DataRequired(), Length(max=80)]
    )
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])


class DecisionForm(FlaskForm):
    note = StringField(_l("Note (for the record)"), validators=[Optional(), Length(max=500)])


class TierPriceForm(Form):
    """One member tier's price (a sub-form: the listing form carries the CSRF token)."""

    tier = StringField(_l("Tier"), validators=[Optional(), Length(max=40)])
    points = IntegerField(_l("Points"), validators=[Optional(), NumberRange(min=0)])
    cash = DecimalField(_l("Cash (yuan)"), places=2, validators=[Optional(), NumberRange(min=0)])


class ListingForm(FlaskForm):
    """A partner's member prices and limits for one listing (wholesale is the platform's)."""

    price_points = IntegerField(_l("Points"), validators=[Optional(), NumberRange(min=0)])
    price_cash = DecimalField(
        _l("Cash (yuan)"), places=2, validators=[Optional(), NumberRange(min=0)]
    )
    tiers = FieldList(FormField(TierPriceForm), min_entries=1, max_entries=12)
    sale_points = IntegerField(_l("Sale points"), validators=[Optional(), NumberRange(min=0)])
    sale_cash = DecimalField(
        _l("Sale cash (yuan)"), places=2, validators=[Optional(), NumberRange(min=0)]
    )
    sale_starts_at = DateTimeLocalField(_l("Sale starts"), validators=[Optional()])
    sale_ends_at = DateTimeLocalField(_l("Sale ends"), validators=[Optional()])
    max_per_order = IntegerField(
        _l("Units per order"), validators=[InputRequired(), NumberRange(min=1, max=100)]
    )
    member_monthly_units = IntegerField(
        _l("Units per member a month (empty: no cap)"),
        validators=[Optional(), NumberRange(min=1, max=1_000_000)],
    )
    is_visible = BooleanField(_l("Visible to members"))
    sort_order = IntegerField(
        _l("Position (lower first)"),
        validators=[InputRequired(), NumberRange(min=0, max=1_000_000)],
    )


EXPORT_KIND_CHOICES = [
    SelectChoice("orders", _l("Orders")),
    SelectChoice("deliveries", _l("Deliveries")),
    SelectChoice("ledger", _l("Account ledger")),
    SelectChoice("members", _l("Members (all, with balances)")),
]


class ExportForm(FlaskForm):
    kind = SelectField(_l("What"), choices=EXPORT_KIND_CHOICES)
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To (inclusive)"), validators=[Optional()])


class ExportScheduleForm(FlaskForm):
    kind = SelectField(_l("What"), choices=EXPORT_KIND_CHOICES)
    frequency = SelectField(
        _l("How often"),
        choices=[
            SelectChoice("daily", _l("Every day (yesterday's rows)")),
            SelectChoice("weekly", _l("Every Monday (last week's rows)")),
        ],
    )
    recipients = TextAreaField(
        _l("Mail the link to (one address per line)"),
        validators=[DataRequired(), Length(max=2_600)],
    )


class SettingsForm(FlaskForm):
    adjustment_approval_points = IntegerField(
        _l("A points adjustment above this many points waits for a second person"),
        validators=[InputRequired(), NumberRange(min=0, max=1_000_000_000)],
    )
    bulk_grant_approval_points = IntegerField(
        _l("A bulk grant file above this many points in all waits for a second person"),
        validators=[InputRequired(), NumberRange(min=0, max=10**12)],
    )
    case_first_response_hours = IntegerField(
        _l("After-sales: first response within (hours)"),
        validators=[InputRequired(), NumberRange(min=1, max=720)],
    )
    case_resolution_hours = IntegerField(
        _l("After-sales: resolution within (hours)"),
        validators=[InputRequired(), NumberRange(min=1, max=720)],
    )


def _yuan_field(label: str, required: bool = True) -> DecimalField:
    checks = [InputRequired() if required else Optional(), NumberRange(min=0, max=10**10)]
    return DecimalField(label, places=2, validators=checks)


class NewPartnerForm(FlaskForm):
    slug = StringField(
        _l("Slug (URL name: a-z, 0-9, -)"), validators=[DataRequired(), Length(max=60)]
    )
    name = StringField(_l("Legal name"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("Kind"), choices=[SelectChoice(k) for k in PARTNER_KINDS])
    display_name = StringField(_l("Mall name"), validators=[DataRequired(), Length(max=120)])
    primary_color = StringField(_l("Primary colour (#RRGGBB)"), default="#1F5AA6")
    accent_color = StringField(_l("Accent colour (#RRGGBB)"), default="#F2C14E")
    points_unit_name = StringField(_l("Points are called"), default="积分")
    points_per_yuan = IntegerField(
        _l("Points worth ¥1"), default=100, validators=[InputRequired(), NumberRange(min=1)]
    )
    timezone = StringField(_l("Timezone"), default="Asia/Shanghai")
    region = StringField(_l("Region"), default="CN")


class CreditLimitForm(FlaskForm):
    credit_limit = _yuan_field(_l("Credit limit (yuan)"))


class OperatorTopUpForm(FlaskForm):
    amount = _yuan_field(_l("Amount received (yuan)"))
    reason = StringField(_l("Reason (the transfer)"), validators=[DataRequired(), Length(max=200)])


class QuotaForm(FlaskForm):
    """Empty: no limit."""

    monthly_spend_cap = _yuan_field(_l("Monthly wholesale spend cap (yuan)"), required=False)
    listing_daily_units = IntegerField(
        _l("Units per listing a day"), validators=[Optional(), NumberRange(min=0)]
    )
    member_listing_daily_units = IntegerField(
        _l("Units per member and listing a day"), validators=[Optional(), NumberRange(min=0)]
    )
    member_listing_monthly_units = IntegerField(
        _l("Units per member and listing a month"), validators=[Optional(), NumberRange(min=0)]
    )
    member_daily_orders = IntegerField(
        _l("Orders per member a day"), validators=[Optional(), NumberRange(min=0)]
    )


class PlanForm(FlaskForm):
    monthly_fee = _yuan_field(_l("Monthly fee (yuan)"))
    per_order_fee = _yuan_field(_l("Fee per order (yuan)"))
    wholesale_fee_bp = IntegerField(
        _l("Fee on wholesale (basis points)"),
        validators=[InputRequired(), NumberRange(min=0, max=10_000)],
    )
    minimum_commitment = _yuan_field(_l("Minimum monthly commitment (yuan)"))
    vat_rate_bp = IntegerField(
        _l("VAT (basis points)"), validators=[InputRequired(), NumberRange(min=0, max=10_000)]
    )


class AllocationForm(FlaskForm):
    product_id = SelectField(_l("Card-key product"), validators=[DataRequired()])
    quantity = IntegerField(
        _l("Codes to hold"), validators=[InputRequired(), NumberRange(min=1, max=1_000_000)]
    )
    is_exclusive = BooleanField(_l("Exclusive (the partner sells only from this allocation)"))


class StatementForm(FlaskForm):
    supplier_id = SelectField(_l("Supplier"), validators=[DataRequired()])
    file = FileField(
        _l("Statement CSV: reference,supplier_order_no,status,amount,completed_at"),
        validators=[FileRequired()],
    )
    first = DateField(_l("From (empty: the statement's own days)"), validators=[Optional()])
    last = DateField(_l("To (exclusive)"), validators=[Optional()])


class ProductEditForm(FlaskForm):
    status = SelectField(_l("Status"), choices=[SelectChoice(s) for s in PRODUCT_STATUSES])
    low_stock_threshold = IntegerField(
        _l("Low-stock alert below (empty: none)"), validators=[Optional(), NumberRange(min=0)]
    )
    stock_capacity = IntegerField(
        _l("Capacity (direct recharges and links; empty: unlimited)"),
        validators=[Optional(), NumberRange(min=0)],
    )


class OfferEditForm(FlaskForm):
    """One per offer on the product page (prefixed with the offer's id)."""

    priority = IntegerField(
        _l("Priority (lower first)"), validators=[InputRequired(), NumberRange(min=0, max=10_000)]
    )
    cost = _yuan_field(_l("Cost (yuan)"))
    status = SelectField(_l("Status"), choices=[SelectChoice(s) for s in OFFER_STATUSES])


class DocumentForm(FlaskForm):
    file = FileField(_l("Document (PDF, PNG or JPEG, up to 10 MB)"), validators=[FileRequired()])


class MallLookForm(FlaskForm):
    display_name = StringField(_l("Mall name"), validators=[DataRequired(), Length(max=120)])
    tagline = StringField(_l("Tagline"), validators=[Optional(), Length(max=200)])
    primary_color = StringField(_l("Primary colour (#RRGGBB)"), validators=[DataRequired()])
    accent_color = StringField(_l("Accent colour (#RRGGBB)"), validators=[DataRequired()])
    return_url = URLField(
        _l("Back-to-app link (https://…; empty: none)"), validators=[Optional(), Length(max=500)]
    )
    font = SelectField(
        _l("Typeface"),
        choices=[
            SelectChoice("sans", _l("Sans-serif")),
            SelectChoice("serif", _l("Serif")),
            SelectChoice("rounded", _l("Rounded")),
        ],
    )
    home_layout = SelectField(
        _l("Home page"),
        choices=[
            SelectChoice("grid", _l("A grid of cards")),
            SelectChoice("list", _l("A list")),
        ],
    )
    announcement = StringField(
        _l("Announcement on the mall's home page (empty: none)"),
        validators=[Optional(), Length(max=300)],
    )

"""The operator console (platform staff): partners — created, suspended, their account
(top-ups, credit limit), billing plan, quotas, channel allocations and staff invitations —
and any order found by its id. Each action calls the same service as the platform API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from app.accounts import service as accounts
from app.accounts import topups
from app.accounts.plans import plan_for, set_plan
from app.admin import bp
from app.admin.forms import (
    ActionForm,
    AllocationForm,
    CreditLimitForm,
    NewPartnerForm,
    OperatorTopUpForm,
    PlanForm,
    QuotaForm,
)
from app.admin.team import invite_form, send_invitation
from app.auth import staff as staff_service
from app.auth.web import STAFF
from app.core.db import utcnow
from app.core.errors import DomainError
from app.core.http import request_actor
from app.core.principal import requires
from app.extensions import db
from app.orders.service import find_any_order
from app.partners import quotas
from app.partners.schemas import PartnerSchema
from app.partners.service import create_partner, get_partner, list_partners, update_partner
from app.supply import products, stock


@bp.route("/platform/")
@requires("platform:read", via=STAFF)
def platform_home() -> str:
    session = db.session()
    sandbox = request.args.get("sandbox") == "1"
    page = list_partners(session, 50, request.args.get("cursor"), sandbox)
    order_id = (request.args.get("order") or "").strip()
    found = find_any_order(session, order_id) if order_id else None
    return render_template(
        "admin/platform.html", page=page, sandbox=sandbox, order_id=order_id, found=found
    )


@bp.route("/platform/partners/new", methods=["GET", "POST"])
@requires("platform", via=STAFF)
def new_partner() -> Response | tuple[str, int]:
    form = NewPartnerForm()
    errors: dict[str, Any] = {}
    if form.validate_on_submit():
        data = {
            "slug": form.slug.data,
            "name": form.name.data,
            "kind": form.kind.data,
            "branding": {
                "display_name": form.display_name.data,
                "primary_color": form.primary_color.data,
                "accent_color": form.accent_color.data,
            },
            "points": {
                "unit_name": form.points_unit_name.data,
                "rate": {
                    "points": form.points_per_yuan.data,
                    "value": {"amount": 100, "currency": "CNY"},
                },
            },
            "timezone": form.timezone.data,
            "region": form.region.data,
        }
        try:  # the API's own validation of a partner
            partner = create_partner(db.session(), request_actor(), PartnerSchema().load(data))
            flash(_("The partner is created."), "ok")
            return redirect(url_for("admin.partner_detail", partner_id=partner.id))
        except ValidationError as invalid:
            errors = dict(invalid.messages_dict)
        except DomainError as refused:
            errors = {"slug": [refused.detail]}
    else:
        errors = dict(form.errors) if request.method == "POST" else {}
    page = render_template("admin/partner_new.html", form=form, errors=errors)
    return page, 422 if errors else 200


@bp.route("/platform/partners/<partner_id>")
@requires("platform:read", via=STAFF)
def partner_detail(partner_id: str) -> str:
    session = db.session()
    partner = get_partner(session, partner_id)
    account = accounts.account_for(session, partner.id)
    plan = plan_for(session, partner.id)
    limits = quotas.limits_for(session, partner.id)
    allocation_form = AllocationForm()
    allocation_form.product_id.choices = _card_key_products()
    yuan = _to_yuan
    return render_template(
        "admin/partner.html",
        partner=partner,
        account=account,
        plan=plan,
        limits=limits,
        usage=quotas.usage(session, partner, utcnow()),
        allocations=stock.partner_allocations(session, partner.id),
        staff=staff_service.list_staff(session, partner.id),
        top_ups=topups.list_requests(session, partner.id, "requested", 20, None).data,
        action=ActionForm(),
        credit_form=CreditLimitForm(credit_limit=yuan(account.credit_limit_minor)),
        top_up_form=OperatorTopUpForm(),
        quota_form=QuotaForm(
            monthly_spend_cap=yuan(limits.monthly_spend_cap_minor),
            **{name: getattr(limits, name) for name in _UNIT_QUOTAS},
        ),
        plan_form=PlanForm(
            monthly_fee=yuan(plan.monthly_fee_minor),
            per_order_fee=yuan(plan.per_order_fee_minor),
            wholesale_fee_bp=plan.wholesale_fee_bp,
            minimum_commitment=yuan(plan.minimum_commitment_minor),
            vat_rate_bp=plan.vat_rate_bp,
        ),
        allocation_form=allocation_form,
        invite_form=invite_form(),
    )


_UNIT_QUOTAS = (
    "listing_daily_units",
    "member_listing_daily_units",
    "member_listing_monthly_units",
    "member_daily_orders",
)


def _to_yuan(minor: int | None) -> Decimal | None:
    return None if minor is None else Decimal(minor) / 100


def _minor(yuan: Decimal | None) -> int | None:
    return None if yuan is None else int(yuan * 100)


def _card_key_products() -> list[tuple[str, str]]:
    return [(p.id, f"{p.brand} · {p.name}") for p in products.card_key_products(db.session())]


def _back(partner_id: str) -> Response:
    return redirect(url_for("admin.partner_detail", partner_id=partner_id))


def _form_failed(form: Any, partner_id: str) -> Response:
    problems = "; ".join(f"{name}: {' '.join(map(str, m))}" for name, m in form.errors.items())
    flash(_("Nothing was changed: %(problems)s", problems=problems), "error")
    return _back(partner_id)


@bp.route("/platform/partners/<partner_id>/<any(suspend, activate):change>", methods=["POST"])
@requires("platform", via=STAFF)
def change_partner_status(partner_id: str, change: str) -> Response:
    session = db.session()
    partner = get_partner(session, partner_id)
    status = "suspended" if change == "suspend" else "active"
    update_partner(session, request_actor(), partner, {"status": status})
    flash(_("The partner is now %(status)s.", status=status), "ok")
    return _back(partner_id)


@bp.route("/platform/partners/<partner_id>/credit-limit", methods=["POST"])
@requires("platform", via=STAFF)
def set_partner_credit_limit(partner_id: str) -> Response:
    form = CreditLimitForm()
    if not form.validate_on_submit():
        return _form_failed(form, partner_id)
    session = db.session()
    get_partner(session, partner_id)
    accounts.set_credit_limit(
        session, request_actor(), partner_id, _minor(form.credit_limit.data) or 0
    )
    flash(_("The credit limit is saved."), "ok")
    return _back(partner_id)


@bp.route("/platform/partners/<partner_id>/top-up", methods=["POST"])
@requires("platform", via=STAFF)
def top_up_partner(partner_id: str) -> Response:
    form = OperatorTopUpForm()
    if not form.validate_on_submit():
        return _form_failed(form, partner_id)
    session = db.session()
    get_partner(session, partner_id)
    accounts.top_up(
        session, request_actor(), partner_id, _minor(form.amount.data) or 0, form.reason.data
    )
    flash(_("The account is credited."), "ok")
    return _back(partner_id)


@bp.route("/platform/partners/<partner_id>/quota", methods=["POST"])
@requires("platform", via=STAFF)
def set_partner_quota(partner_id: str) -> Response:
    form = QuotaForm()
    if not form.validate_on_submit():
        return _form_failed(form, partner_id)
    session = db.session()
    get_partner(session, partner_id)
    caps = {name: getattr(form, name).data for name in _UNIT_QUOTAS}
    caps["monthly_spend_cap_minor"] = _minor(form.monthly_spend_cap.data)
    quotas.set_quota(session, request_actor(), partner_id, caps)
    flash(_("The quotas are saved."), "ok")
    return _back(partner_id)


@bp.route("/platform/partners/<partner_id>/plan", methods=["POST"])
@requires("platform", via=STAFF)
def set_partner_plan(partner_id: str) -> Response:
    form = PlanForm()
    if not form.validate_on_submit():
        return _form_failed(form, partner_id)
    session = db.session()
    get_partner(session, partner_id)
    set_plan(
        session,
        request_actor(),
        partner_id,
        {
            "monthly_fee_minor": _minor(form.monthly_fee.data),
            "per_order_fee_minor": _minor(form.per_order_fee.data),
            "wholesale_fee_bp": form.wholesale_fee_bp.data,
            "minimum_commitment_minor": _minor(form.minimum_commitment.data),
            "vat_rate_bp": form.vat_rate_bp.data,
        },
    )
    flash(_("The billing plan is saved; it applies from the next invoice."), "ok")
    return _back(partner_id)


@bp.route("/platform/partners/<partner_id>/allocations", methods=["POST"])
@requires("platform", via=STAFF)
def allocate_to_partner(partner_id: str) -> Response:
    form = AllocationForm()
    form.product_id.choices = _card_key_products()
    if not form.validate_on_submit():
        return _form_failed(form, partner_id)
    session = db.session()
    get_partner(session, partner_id)
    stock.create_allocation(
        session,
        request_actor(),
        products.get_product(session, form.product_id.data or ""),
        partner_id,
        form.quantity.data or 0,
        bool(form.is_exclusive.data),
    )
    flash(_("The codes are held for this partner."), "ok")
    return _back(partner_id)


@bp.route("/platform/allocations/<allocation_id>/release", methods=["POST"])
@requires("platform", via=STAFF)
def release_partner_allocation(allocation_id: str) -> Response:
    session = db.session()
    allocation = stock.release_allocation(
        session, request_actor(), stock.get_allocation(session, allocation_id)
    )
    flash(_("The unsold codes are back in the shared pool."), "ok")
    return _back(allocation.partner_id)


@bp.route("/platform/partners/<partner_id>/invite", methods=["POST"])
@requires("platform", via=STAFF)
def invite_partner_staff(partner_id: str) -> Response:
    form = invite_form()
    if not form.validate_on_submit():
        return _form_failed(form, partner_id)
    get_partner(db.session(), partner_id)
    send_invitation(form, partner_id)
    return _back(partner_id)

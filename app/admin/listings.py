"""Listings: the partner's own member prices (list, tier, timed sale), visibility, position and
limits, within the bounds the platform sets (the wholesale price is the platform's, member
prices keep above the partner's price floor), with a preview of what each tier pays."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.admin import bp
from app.admin.console import PAGE
from app.admin.forms import ListingForm
from app.auth.web import STAFF
from app.core.db import utcnow
from app.core.errors import ValidationFailed
from app.core.http import request_actor
from app.core.principal import requires
from app.core.tenancy import current_partner_id
from app.extensions import db
from app.orders.pricing import preview
from app.partners import listings
from app.partners.models import Listing, Partner
from app.partners.service import get_partner


@bp.route("/listings")
@requires("catalog:read", via=STAFF)
def listing_list() -> str:
    session = db.session()
    partner = get_partner(session, current_partner_id())
    page = listings.list_listings(
        session, partner.id, PAGE, request.args.get("cursor"), listings.BY_POSITION
    )
    return render_template("admin/listings.html", page=page, partner=partner, now=utcnow())


@bp.route("/listings/<listing_id>")
@requires("catalog:read", via=STAFF)
def listing_detail(listing_id: str) -> str:
    partner, listing = _listing(listing_id)
    form = ListingForm(data=_form_data(listing, ZoneInfo(partner.timezone)))
    return _page(partner, listing, form, listing, {})[0]


@bp.route("/listings/<listing_id>/preview", methods=["POST"])
@requires("catalog:read", via=STAFF)
def listing_preview(listing_id: str) -> tuple[str, int]:
    """The form's prices as members would pay them; nothing is saved."""
    partner, listing = _listing(listing_id)
    form = ListingForm()
    terms, errors = _terms(form, partner)
    if terms is None:
        return _page(partner, listing, form, listing, errors)
    try:
        draft = listings.draft_listing(listing, terms, partner)
    except ValidationFailed as failed:
        return _page(partner, listing, form, listing, failed.extra["errors"])
    return _page(partner, listing, form, draft, {})


@bp.route("/listings/<listing_id>", methods=["POST"])
@requires("catalog:read", "listings:write", via=STAFF)
def listing_save(listing_id: str) -> Response | tuple[str, int]:
    session = db.session()
    partner, listing = _listing(listing_id)
    form = ListingForm()
    terms, errors = _terms(form, partner)
    if terms is None:
        return _page(partner, listing, form, listing, errors)
    try:
        listings.update_listing(session, request_actor(), listing, terms, partner)
    except ValidationFailed as failed:  # the answer is 422: the request's changes roll back
        return _page(partner, listing, form, listing, failed.extra["errors"])
    flash(_("The listing is saved."), "ok")
    return redirect(url_for("admin.listing_detail", listing_id=listing.id))


def _listing(listing_id: str) -> tuple[Partner, Listing]:
    session = db.session()
    partner = get_partner(session, current_partner_id())
    return partner, listings.get_listing(session, partner.id, listing_id)


def _page(
    partner: Partner,
    listing: Listing,
    form: ListingForm,
    shown: Listing,
    errors: dict[str, list[str]],
) -> tuple[str, int]:
    """The listing page: the form, its errors, and the member prices of `shown` (the saved
    listing, or the unsaved draft the form describes)."""
    page = render_template(
        "admin/listing.html",
        listing=listing,
        partner=partner,
        form=form,
        errors=errors,
        previewing=shown is not listing,
        floor_minor=listings.price_floor_minor(partner, listing),
        tiers=preview(shown, partner.id, utcnow()),
    )
    return page, 422 if errors else 200


def _minor(yuan: Decimal | None) -> int:
    return int((yuan or Decimal(0)) * 100)


def _yuan(minor: int | None) -> Decimal | None:
    return None if minor is None else Decimal(minor) / 100


def _local(moment: datetime | None, zone: ZoneInfo) -> datetime | None:
    return moment.astimezone(zone).replace(tzinfo=None) if moment else None


def _form_data(listing: Listing, zone: ZoneInfo) -> dict[str, Any]:
    tiers = [
        {"tier": tier, "points": price.get("points", 0), "cash": _yuan(price.get("cash", 0))}
        for tier, price in sorted((listing.tier_prices or {}).items())
    ]
    return {
        "price_points": listing.price_points,
        "price_cash": _yuan(listing.price_cash_minor),
        "tiers": [*tiers, {}],  # one empty row adds a tier
        "sale_points": listing.sale_points,
        "sale_cash": _yuan(listing.sale_cash_minor),
        "sale_starts_at": _local(listing.sale_starts_at, zone),
        "sale_ends_at": _local(listing.sale_ends_at, zone),
        "max_per_order": listing.max_per_order,
        "member_monthly_units": listing.member_monthly_units,
        "is_visible": listing.is_visible,
        "sort_order": listing.sort_order,
    }


def _terms(
    form: ListingForm, partner: Partner
) -> tuple[listings.ListingTerms | None, dict[str, list[str]]]:
    """The form as listing terms (every field but wholesale), or its errors. Sale times are
    read in the partner's timezone."""
    if not form.validate_on_submit():
        return None, {name: [str(m) for m in messages] for name, messages in _flat(form.errors)}
    zone = ZoneInfo(partner.timezone)
    tier_prices = {}
    for row in form.tiers.entries:
        name = (row.tier.data or "").strip()
        if name:
            tier_prices[name] = {"points": row.points.data or 0, "cash": _minor(row.cash.data)}
    no_sale = form.sale_points.data is None and form.sale_cash.data is None
    terms = listings.ListingTerms.of(
        {
            "price_points": form.price_points.data or 0,
            "price_cash_minor": _minor(form.price_cash.data),
            "tier_prices": tier_prices,
            "sale_points": form.sale_points.data,
            "sale_cash_minor": None if form.sale_cash.data is None else _minor(form.sale_cash.data),
            "sale_starts_at": None
            if no_sale or form.sale_starts_at.data is None
            else form.sale_starts_at.data.replace(tzinfo=zone),
            "sale_ends_at": None
            if no_sale or form.sale_ends_at.data is None
            else form.sale_ends_at.data.replace(tzinfo=zone),
            "max_per_order": form.max_per_order.data,
            "member_monthly_units": form.member_monthly_units.data,
            "is_visible": form.is_visible.data,
            "sort_order": form.sort_order.data,
        }
    )
    return terms, {}


def _flat(errors: dict[str, Any], prefix: str = "") -> list[tuple[str, list[str]]]:
    """WTForms' nested errors (tiers-0-points …) as (field, messages) pairs."""
    pairs: list[tuple[str, list[str]]] = []
    for name, value in errors.items():
        if isinstance(value, dict):
            pairs += _flat(value, f"{prefix}{name}.")
        elif value and isinstance(value[0], dict):
            for i, sub in enumerate(value):
                pairs += _flat(sub or {}, f"{prefix}{name}.{i}.")
        else:
            pairs.append((f"{prefix}{name}", value))
    return pairs

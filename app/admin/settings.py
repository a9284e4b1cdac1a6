"""The partner's own settings: maker–checker thresholds (points adjustments, bulk grants) and
after-sales service levels, set by its owners and admins."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from app.admin import bp
from app.admin.forms import MallLookForm, SettingsForm
from app.auth.web import STAFF
from app.core.errors import ValidationFailed
from app.core.http import request_actor
from app.core.principal import requires
from app.core.tenancy import current_partner_id
from app.extensions import db
from app.partners.models import Partner
from app.partners.schemas import BrandingSchema
from app.partners.service import (
    PartnerSettings,
    get_partner,
    update_partner,
    update_settings,
)

FIELDS = (
    "adjustment_approval_points",
    "bulk_grant_approval_points",
    "case_first_response_hours",
    "case_resolution_hours",
)


@bp.route("/settings", methods=["GET", "POST"])
@requires("staff:manage", via=STAFF)
def settings() -> Response | tuple[str, int]:
    partner = get_partner(db.session(), current_partner_id())
    form = SettingsForm(data={name: getattr(partner, name) for name in FIELDS})
    errors: dict[str, list[str]] = {}
    if form.validate_on_submit():
        try:
            update_settings(
                db.session(),
                request_actor(),
                partner,
                PartnerSettings(**{name: getattr(form, name).data for name in FIELDS}),
            )
            flash(_("The settings are saved."), "ok")
            return redirect(url_for("admin.settings"))
        except ValidationFailed as failed:
            errors = failed.extra["errors"]
    else:
        errors = {name: list(messages) for name, messages in form.errors.items()}
    return _page(partner, form, _look_form(partner), errors)


def _look_form(partner: Partner) -> MallLookForm:
    branding = partner.branding or {}
    return MallLookForm(data={name: branding.get(name) for name in LOOK_FIELDS})


def _page(
    partner: Partner, form: SettingsForm, look: MallLookForm, errors: dict[str, Any]
) -> tuple[str, int]:
    page = render_template(
        "admin/settings.html", form=form, look=look, errors=errors, partner=partner
    )
    return page, 422 if errors else 200


LOOK_FIELDS = (
    "display_name", "tagline", "primary_color", "accent_color", "return_url", "font",
    "home_layout", "announcement",
)  # fmt: skip


@bp.route("/settings/mall", methods=["POST"])
@requires("staff:manage", via=STAFF)
def mall_look() -> Response | tuple[str, int]:
    """The mall's name, tagline, colours, back-to-app link and announcement: live at the next
    page view."""
    session = db.session()
    partner = get_partner(session, current_partner_id())
    look = MallLookForm()
    form = SettingsForm(data={name: getattr(partner, name) for name in FIELDS})
    if not look.validate_on_submit():
        return _page(partner, form, look, dict(look.errors))
    wanted = {name: (getattr(look, name).data or None) for name in LOOK_FIELDS}
    try:  # the API's own rules for branding
        branding = BrandingSchema().load({**(partner.branding or {}), **wanted})
    except ValidationError as invalid:
        return _page(partner, form, look, dict(invalid.messages_dict))
    update_partner(session, request_actor(), partner, {"branding": branding})
    flash(_("The mall's look is saved; members see it at their next page."), "ok")
    return redirect(url_for("admin.settings"))

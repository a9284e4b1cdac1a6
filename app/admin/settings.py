"""The partner's own settings: maker–checker thresholds (points adjustments, bulk grants) and
after-sales service levels, set by its owners and admins."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.admin import bp
from app.admin.forms import SettingsForm
from app.auth.web import STAFF
from app.core.errors import ValidationFailed
from app.core.http import request_actor
from app.core.principal import requires
from app.core.tenancy import current_partner_id
from app.extensions import db
from app.partners.service import PartnerSettings, get_partner, update_settings

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
    page = render_template("admin/settings.html", form=form, errors=errors)
    return page, 422 if errors else 200

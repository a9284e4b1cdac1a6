"""The partner's audit log: every staff and API action with its actor, before and after;
filtered, paged, exported as CSV."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Response, render_template, request

from app.admin import bp
from app.admin.console import PAGE, day_start
from app.admin.forms import AuditSearchForm
from app.auth.web import STAFF
from app.core.audit import AuditFilter, audit_csv, audit_rows, list_audit
from app.core.principal import requires
from app.core.tenancy import current_partner_id
from app.extensions import db
from app.partners.service import get_partner

EXPORT_ROWS = 10_000  # a bigger range: narrow the dates (background exports come later)


def _filter() -> tuple[AuditSearchForm, AuditFilter]:
    form = AuditSearchForm(request.args)
    form.validate()
    zone = ZoneInfo(get_partner(db.session(), current_partner_id()).timezone)
    return form, AuditFilter(
        action=form.action.data or None,
        actor_id=form.actor_id.data or None,
        target_id=form.target_id.data or None,
        occurred_from=day_start(form.occurred_from.data, zone),
        occurred_to=day_start(form.occurred_to.data, zone, days=1),
    )


@bp.route("/audit")
@requires("audit:read", via=STAFF)
def audit_log() -> str:
    form, where = _filter()
    page = list_audit(db.session(), current_partner_id(), where, PAGE, request.args.get("cursor"))
    export_args = {k: v for k, v in request.args.items() if k != "cursor"}
    return render_template("admin/audit.html", form=form, page=page, export_args=export_args)


@bp.route("/audit.csv")
@requires("audit:read", via=STAFF)
def audit_export() -> Response:
    _form, where = _filter()
    rows = audit_rows(db.session(), current_partner_id(), where, EXPORT_ROWS)
    return Response(
        audit_csv(rows),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )

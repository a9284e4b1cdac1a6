"""Exports: CSV files of orders, deliveries, the account ledger or members, built in the
background (the table polls until they are ready), downloaded by signed-in staff allowed to
read that kind of data, and schedules that mail a link every day or week."""

from __future__ import annotations

from flask import Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as Redirect

from app.admin import bp
from app.admin.console import PAGE
from app.admin.forms import ActionForm, ExportForm, ExportScheduleForm
from app.auth.web import STAFF
from app.core.errors import ValidationFailed
from app.core.http import request_actor
from app.core.principal import PermissionDenied, requires
from app.core.tenancy import current_partner_id
from app.exports import service
from app.exports.sources import SOURCES
from app.extensions import db


def _may_export(kind: str) -> None:
    """Each kind of export needs the permission that reads its rows."""
    permission = SOURCES[kind].permission if kind in SOURCES else "orders:read"
    if not g.principal.can(permission):
        raise PermissionDenied(f"This export needs the permission {permission}.")


@bp.route("/exports")
@requires("orders:read", via=STAFF)
def exports() -> str:
    session = db.session()
    partner_id = current_partner_id()
    page = service.list_exports(session, partner_id, PAGE, request.args.get("cursor"))
    template = "admin/_exports_table.html" if request.headers.get("HX-Request") else None
    return render_template(
        template or "admin/exports.html",
        page=page,
        schedules=service.list_schedules(session, partner_id),
        form=ExportForm(),
        schedule_form=ExportScheduleForm(),
        action=ActionForm(),
    )


@bp.route("/exports", methods=["POST"])
@requires("orders:read", via=STAFF)
def request_export() -> Redirect:
    form = ExportForm()
    if form.validate_on_submit():
        _may_export(form.kind.data or "")
        try:
            service.request_export(
                db.session(),
                request_actor(),
                current_partner_id(),
                form.kind.data or "",
                form.date_from.data,
                form.date_to.data,
            )
            flash(_("The export is being built; it appears below when ready."), "ok")
        except ValidationFailed as failed:
            flash(" ".join(m for ms in failed.extra["errors"].values() for m in ms), "error")
    return redirect(url_for("admin.exports"))


@bp.route("/exports/<export_id>/download")
@requires("orders:read", via=STAFF)
def download_export(export_id: str) -> Response:
    export, content = service.open_ready(db.session(), current_partner_id(), export_id)
    _may_export(export.kind)
    return Response(
        service.csv_chunks(content),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


@bp.route("/exports/schedules", methods=["POST"])
@requires("orders:read", via=STAFF)
def schedule_export() -> Redirect:
    form = ExportScheduleForm()
    if form.validate_on_submit():
        _may_export(form.kind.data or "")
        try:
            service.create_schedule(
                db.session(),
                request_actor(),
                current_partner_id(),
                form.kind.data or "",
                form.frequency.data or "",
                (form.recipients.data or "").split(),
            )
            flash(_("The schedule is saved."), "ok")
        except ValidationFailed as failed:
            flash(" ".join(m for ms in failed.extra["errors"].values() for m in ms), "error")
    return redirect(url_for("admin.exports"))


@bp.route("/exports/schedules/<schedule_id>/cancel", methods=["POST"])
@requires("orders:read", via=STAFF)
def cancel_export_schedule(schedule_id: str) -> Redirect:
    schedule = service.cancel_schedule(
        db.session(), request_actor(), current_partner_id(), schedule_id
    )
    _may_export(schedule.kind)
    flash(_("The schedule is cancelled."), "ok")
    return redirect(url_for("admin.exports"))

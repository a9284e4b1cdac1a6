"""Bulk points grants: upload a CSV, see every bad row before anything moves, apply it in the
background with a live progress bar, download the result."""

from __future__ import annotations

from flask import Response, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from app.admin import bp
from app.admin.forms import ActionForm, GrantFileForm
from app.auth.web import STAFF
from app.core.db import utcnow
from app.core.http import max_body_bytes, request_actor
from app.core.principal import requires
from app.core.queue import redis_connection
from app.core.tenancy import current_partner_id
from app.extensions import db
from app.members import grants
from app.members.models import PointsGrantBatch
from app.partners.service import get_partner


@bp.route("/grants")
@requires("members:write", via=STAFF)
def grant_batches() -> str:
    batches = grants.recent_batches(db.session(), current_partner_id())
    return render_template("admin/grants.html", batches=batches, form=GrantFileForm())


@bp.route("/grants", methods=["POST"])
@requires("members:write", via=STAFF)
@max_body_bytes(grants.MAX_BYTES + 64 * 1024)
def upload_grants() -> Response | tuple[str, int]:
    form = GrantFileForm()
    if not form.validate_on_submit():
        page = render_template("admin/grants.html", batches=[], form=form)
        return page, 422
    session = db.session()
    partner = get_partner(session, current_partner_id())
    upload = form.file.data
    batch, new = grants.upload(
        session,
        request_actor(),
        partner.id,
        upload.filename or "grants.csv",
        upload.read(),
        timezone=partner.timezone,
        approval_threshold=partner.bulk_grant_approval_points,
        now=utcnow(),
    )
    if not new:
        flash(
            _("This file was uploaded before: here is its batch (it is never applied twice)."), "ok"
        )
    return redirect(url_for("admin.grant_batch", batch_id=batch.id))  # type: ignore[return-value]


def _batch_page(batch: PointsGrantBatch, template: str) -> str:
    done = grants.progress(redis_connection(current_app), batch)
    return render_template(template, batch=batch, done=done, action=ActionForm())


@bp.route("/grants/<batch_id>")
@requires("members:write", via=STAFF)
def grant_batch(batch_id: str) -> str:
    batch = grants.get_batch(db.session(), current_partner_id(), batch_id)
    return _batch_page(batch, "admin/grant_batch.html")


@bp.route("/grants/<batch_id>/progress")
@requires("members:write", via=STAFF)
def grant_progress(batch_id: str) -> str:
    """The htmx-polled part of the batch page (it stops polling once the batch is done)."""
    batch = grants.get_batch(db.session(), current_partner_id(), batch_id)
    return _batch_page(batch, "admin/_grant_progress.html")


@bp.route("/grants/<batch_id>/<any(apply, reject):decision>", methods=["POST"])
@requires("members:write", via=STAFF)
def decide_grants(batch_id: str, decision: str) -> Response:
    session = db.session()
    if decision == "apply":
        grants.start(session, request_actor(), current_partner_id(), batch_id)
    else:
        grants.reject(session, request_actor(), current_partner_id(), batch_id)
    return redirect(url_for("admin.grant_batch", batch_id=batch_id))  # type: ignore[return-value]


@bp.route("/grants/<batch_id>/report.csv")
@requires("members:write", via=STAFF)
def grant_report(batch_id: str) -> Response:
    session = db.session()
    batch = grants.get_batch(session, current_partner_id(), batch_id)
    timezone = get_partner(session, current_partner_id()).timezone
    return Response(
        grants.report_csv(batch, timezone),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{batch.id}-report.csv"'},
    )

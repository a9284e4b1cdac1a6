"""The support console's actions on an order: after-sales cases opened from one of its units
(evidence: the delivery, every reveal of the code; resolved by reissue, refund or rejection),
and cancelling the units not yet delivered."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.admin import bp
from app.admin.console import PAGE
from app.admin.forms import OpenCaseForm, ResolveCaseForm
from app.auth.web import STAFF
from app.billing.reconciliation import items_for_delivery
from app.core.db import utcnow
from app.core.http import request_actor
from app.core.principal import requires
from app.core.tenancy import current_partner_id
from app.extensions import db
from app.orders import aftersales
from app.orders import service as orders
from app.orders.models import CASE_RESOLUTIONS


@bp.route("/cases")
@requires("orders:read", via=STAFF)
def case_list() -> str:
    status = request.args.get("status", "open")
    page = aftersales.list_cases(
        db.session(), current_partner_id(), status or None, PAGE, request.args.get("cursor")
    )
    return render_template("admin/cases.html", page=page, status=status, now=utcnow())


@bp.route("/orders/<order_id>/cases", methods=["POST"])
@requires("orders:write", via=STAFF)
def open_case(order_id: str) -> Response:
    form = OpenCaseForm()
    if not form.validate_on_submit():
        flash(_("Say what the problem is."), "error")
        return redirect(url_for("admin.order_detail", order_id=order_id))
    case = aftersales.open_case(
        db.session(),
        request_actor(),
        current_partner_id(),
        order_id,
        form.delivery_id.data or "",
        form.kind.data or "other",
        form.description.data or "",
        utcnow(),
    )
    return redirect(url_for("admin.case_detail", case_id=case.id))


@bp.route("/cases/<case_id>")
@requires("orders:read", via=STAFF)
def case_detail(case_id: str) -> str:
    session = db.session()
    case = aftersales.get_case(session, current_partner_id(), case_id)
    return render_template(
        "admin/case.html",
        case=case,
        evidence=aftersales.evidence(session, case),
        statements=items_for_delivery(session, case.delivery_id),
        form=ResolveCaseForm(),
        resolutions=CASE_RESOLUTIONS,
        now=utcnow(),
    )


@bp.route("/cases/<case_id>/resolve", methods=["POST"])
@requires("orders:write", via=STAFF)
def resolve_case(case_id: str) -> Response:
    form = ResolveCaseForm()
    if not form.validate_on_submit() or form.resolution.data not in CASE_RESOLUTIONS:
        flash(_("Write a note: why this resolution."), "error")
        return redirect(url_for("admin.case_detail", case_id=case_id))
    aftersales.resolve(
        db.session(),
        request_actor(),
        current_partner_id(),
        case_id,
        form.resolution.data,
        form.note.data or "",
        utcnow(),
    )
    flash(_("The case is resolved."), "ok")
    return redirect(url_for("admin.case_detail", case_id=case_id))


@bp.route("/orders/<order_id>/cancel", methods=["POST"])
@requires("orders:write", via=STAFF)
def cancel_unsent_units(order_id: str) -> Response:
    """The order's units not yet delivered are cancelled and refunded (delivered ones stay)."""
    orders.cancel_order(db.session(), request_actor(), current_partner_id(), order_id)
    flash(_("The unsent units are cancelled and refunded."), "ok")
    return redirect(url_for("admin.order_detail", order_id=order_id))

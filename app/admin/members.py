"""Acting on members: points adjustments under maker–checker, the approvals queue, blocking."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.admin import bp
from app.admin.forms import ActionForm, AdjustPointsForm
from app.auth.web import STAFF
from app.core.db import utcnow
from app.core.http import request_actor
from app.core.principal import requires
from app.core.tenancy import current_partner_id
from app.core.vault import current_vault
from app.extensions import db
from app.members import adjustments
from app.members.service import MemberChanges, find_member, upsert_member
from app.partners.service import get_partner


@bp.route("/members/<external_id>/adjust", methods=["POST"])
@requires("members:write", via=STAFF)
def adjust_points(external_id: str) -> Response:
    form = AdjustPointsForm()
    if not form.validate_on_submit():
        flash(_("Give a number of points and a reason."), "error")
        return redirect(url_for("admin.member_detail", external_id=external_id))
    session = db.session()
    partner = get_partner(session, current_partner_id())
    adjustment = adjustments.request_adjustment(
        session,
        request_actor(),
        partner.id,
        external_id,
        form.delta.data or 0,
        form.reason.data or "",
        threshold=partner.adjustment_approval_points,
        now=utcnow(),
    )
    if adjustment.status == "applied":
        flash(_("The points were adjusted."), "ok")
    else:
        flash(_("Above %(n)s points: the adjustment waits for a colleague's approval.",
                n=partner.adjustment_approval_points), "ok")  # fmt: skip
    return redirect(url_for("admin.member_detail", external_id=external_id))


@bp.route("/approvals")
@requires("members:write", via=STAFF)
def approvals() -> str:
    session = db.session()
    pending = adjustments.pending_adjustments(session, current_partner_id())
    rows = [(a, adjustments.member_of(session, a)) for a in pending]
    return render_template("admin/approvals.html", rows=rows, action=ActionForm())


@bp.route("/approvals/<adjustment_id>/<any(approve, reject):decision>", methods=["POST"])
@requires("members:write", via=STAFF)
def decide_adjustment(adjustment_id: str, decision: str) -> Response:
    adjustments.decide(
        db.session(),
        request_actor(),
        current_partner_id(),
        adjustment_id,
        approve=decision == "approve",
        now=utcnow(),
    )
    flash(_("Approved and applied.") if decision == "approve" else _("Rejected."), "ok")
    return redirect(url_for("admin.approvals"))


@bp.route("/members/<external_id>/<any(block, unblock):change>", methods=["POST"])
@requires("members:write", via=STAFF)
def block_member(external_id: str, change: str) -> Response:
    session = db.session()
    find_member(session, current_partner_id(), external_id)  # 404 for another partner's
    upsert_member(
        session,
        request_actor(),
        current_partner_id(),
        external_id,
        MemberChanges.of({"status": "blocked" if change == "block" else "active"}),
        current_vault(),
    )
    return redirect(url_for("admin.member_detail", external_id=external_id))

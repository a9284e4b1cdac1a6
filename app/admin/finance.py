"""Finance: the partner account (balance, credit, ledger), invoices (PDF and CSV), the
low-balance alert (threshold and who is mailed) and top-up requests; for the platform, the
queue of top-up requests to credit or reject."""

from __future__ import annotations

from pathlib import Path

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as Redirect

from app.accounts import alerts, topups
from app.accounts.service import account_for, list_entries, set_low_balance_threshold
from app.admin import bp
from app.admin.console import PAGE
from app.admin.forms import DecisionForm, ThresholdForm, TopUpRequestForm
from app.auth.web import STAFF
from app.billing import documents, invoices
from app.core.errors import ValidationFailed
from app.core.http import request_actor
from app.core.principal import requires
from app.core.tenancy import current_partner_id
from app.extensions import db
from app.partners.service import get_partner


@bp.route("/finance")
@requires("billing:read", via=STAFF)
def finance() -> str:
    session = db.session()
    partner_id = current_partner_id()
    account = account_for(session, partner_id)
    form = ThresholdForm(
        threshold=account.low_balance_threshold_minor // 100
        if account.low_balance_threshold_minor is not None
        else None,
        recipients="\n".join(account.low_balance_recipients or []),
    )
    return render_template(
        "admin/finance.html",
        account=account,
        entries=list_entries(session, partner_id, None, PAGE, request.args.get("cursor")),
        invoices=invoices.list_invoices(session, 24, None, partner_id, own=True).data,
        top_ups=topups.list_requests(session, partner_id, None, 10, None).data,
        form=form,
        top_up_form=TopUpRequestForm(),
    )


@bp.route("/finance/threshold", methods=["POST"])
@requires("billing:read", "billing:manage", via=STAFF)
def set_threshold() -> Redirect:
    form = ThresholdForm()
    if not form.validate_on_submit():
        flash(_("Check the threshold and the addresses."), "error")
        return redirect(url_for("admin.finance"))
    session, actor, partner_id = db.session(), request_actor(), current_partner_id()
    try:  # checked before anything is written
        alerts.set_recipients(session, actor, partner_id, (form.recipients.data or "").split())
    except ValidationFailed as failed:
        flash(" ".join(failed.extra["errors"]["recipients"]), "error")
        return redirect(url_for("admin.finance"))
    yuan = form.threshold.data
    set_low_balance_threshold(session, actor, partner_id, None if yuan is None else yuan * 100)
    flash(_("The low-balance alert is saved."), "ok")
    return redirect(url_for("admin.finance"))


@bp.route("/finance/top-ups", methods=["POST"])
@requires("billing:read", "billing:manage", via=STAFF)
def request_top_up() -> Redirect:
    form = TopUpRequestForm()
    if not form.validate_on_submit():
        flash(_("Give the amount sent and the transfer reference."), "error")
        return redirect(url_for("admin.finance"))
    topups.request_top_up(
        db.session(),
        request_actor(),
        current_partner_id(),
        int((form.amount.data or 0) * 100),
        form.payment_reference.data or "",
        form.note.data,
    )
    flash(_("Your top-up request is sent; the account is credited once the money arrives."), "ok")
    return redirect(url_for("admin.finance"))


@bp.route("/platform/top-ups")
@requires("platform:read", via=STAFF)
def top_up_queue() -> str:
    status = request.args.get("status", "requested")
    page = topups.list_requests(
        db.session(), None, status or None, PAGE, request.args.get("cursor")
    )
    return render_template("admin/top_ups.html", page=page, status=status, form=DecisionForm())


@bp.route("/platform/top-ups/<request_id>/<any(credit, reject):decision>", methods=["POST"])
@requires("platform", via=STAFF)
def decide_top_up(request_id: str, decision: str) -> Redirect:
    form = DecisionForm()
    if form.validate_on_submit():
        topups.decide(
            db.session(), request_actor(), request_id, decision == "credit", form.note.data
        )
        flash(_("The request is decided."), "ok")
    return redirect(url_for("admin.top_up_queue"))


@bp.route("/finance/invoices/<invoice_id>.<any(pdf, csv):fmt>")
@requires("billing:read", via=STAFF)
def invoice_download(invoice_id: str, fmt: str) -> Response:
    session = db.session()
    invoice = invoices.get_invoice(session, invoice_id, current_partner_id())
    body, mimetype, filename = documents.invoice_file(
        invoice,
        get_partner(session, invoice.partner_id),
        fmt,
        current_app.config["INVOICE_ISSUER"],
        Path(current_app.config["PDF_FONT"]),
    )
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )

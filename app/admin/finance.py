"""Finance: the partner account (balance, credit, ledger), invoices (PDF and CSV) and the
low-balance alert threshold."""

from __future__ import annotations

from pathlib import Path

from flask import Response, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.accounts.service import account_for, list_entries, set_low_balance_threshold
from app.admin import bp
from app.admin.console import PAGE
from app.admin.forms import ThresholdForm
from app.auth.web import STAFF
from app.billing import documents, invoices
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
        else None
    )
    return render_template(
        "admin/finance.html",
        account=account,
        entries=list_entries(session, partner_id, None, PAGE, request.args.get("cursor")),
        invoices=invoices.list_invoices(session, 24, None, partner_id, own=True).data,
        form=form,
    )


@bp.route("/finance/threshold", methods=["POST"])
@requires("billing:read", "staff:manage", via=STAFF)
def set_threshold() -> Response:
    form = ThresholdForm()
    if form.validate_on_submit():
        yuan = form.threshold.data
        set_low_balance_threshold(
            db.session(),
            request_actor(),
            current_partner_id(),
            None if yuan is None else yuan * 100,
        )
        flash(_("The low-balance alert threshold is saved."), "ok")
    return redirect(url_for("admin.finance"))  # type: ignore[return-value]


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

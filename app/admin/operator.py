"""The operator console's supply and money pages: suppliers and their authorizations (those
lapsing within 30 days first), products with stock, code batches (upload, sell-through,
void), margins of the last 30 days and the invariants report."""

from __future__ import annotations

from datetime import timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from app.admin import bp
from app.admin.forms import ActionForm, CodeBatchForm
from app.auth.web import STAFF
from app.billing.margins import margins
from app.core.db import utcnow
from app.core.http import max_body_bytes, request_actor
from app.core.principal import requires
from app.core.vault import current_vault
from app.extensions import db
from app.invariants import ledger_problems
from app.supply import imports, products, stock, suppliers
from app.supply.models import Offer

EXPIRING_DAYS = 30


@bp.route("/platform/supply")
@requires("platform:read", via=STAFF)
def supply() -> str:
    session = db.session()
    expiring = suppliers.list_authorizations(
        session, 100, None, expiring_within_days=EXPIRING_DAYS
    ).data
    catalog = products.list_products(session, 100, None).data
    return render_template(
        "admin/supply.html",
        suppliers=suppliers.list_suppliers(session, 100, None).data,
        expiring=expiring,
        products=[(p, stock.stock_summary(session, p)) for p in catalog],
    )


def _batch_form() -> CodeBatchForm:
    form = CodeBatchForm()
    form.offer_id.choices = [
        (offer_id, f"{product} · {supplier}")
        for offer_id, product, supplier in products.card_key_offers(db.session())
    ]
    return form


@bp.route("/platform/batches")
@requires("platform:read", via=STAFF)
def code_batches() -> str:
    session = db.session()
    batches = imports.list_batches(session, 50, request.args.get("cursor"))
    counts = imports.batch_counts(session, [b.id for b in batches.data])
    return render_template(
        "admin/batches.html",
        page=batches,
        counts=counts,
        form=_batch_form(),
        action=ActionForm(),
    )


@bp.route("/platform/batches", methods=["POST"])
@requires("platform", via=STAFF)
@max_body_bytes(imports.MAX_IMPORT_BYTES + 64 * 1024)
def upload_code_batch() -> Response:
    form = _batch_form()
    if not form.validate_on_submit():
        flash(_("Choose an offer and a CSV file."), "error")
        return redirect(url_for("admin.code_batches"))
    session = db.session()
    offer = session.get_one(Offer, form.offer_id.data)
    product = products.get_product(session, offer.product_id)
    rows = imports.parse_code_csv(form.file.data.read())
    batch = imports.import_codes(
        session, request_actor(), current_vault(), product, rows, form.file.data.filename, offer.id
    )
    flash(_("%(n)s codes imported in batch %(b)s.", n=batch.code_count, b=batch.id), "ok")
    return redirect(url_for("admin.code_batches"))


@bp.route("/platform/batches/<batch_id>/void", methods=["POST"])
@requires("platform", via=STAFF)
def void_code_batch(batch_id: str) -> Response:
    session = db.session()
    imports.void_batch(session, request_actor(), imports.get_batch(session, batch_id))
    flash(_("The batch is void: its unsold codes are never sold."), "ok")
    return redirect(url_for("admin.code_batches"))


@bp.route("/platform/money")
@requires("platform:read", via=STAFF)
def money() -> str:
    session = db.session()
    end = utcnow()
    group = request.args.get("group_by", "partner")
    report = margins(session, end - timedelta(days=30), end, group if group in (
        "partner", "product", "supplier") else "partner")  # fmt: skip
    return render_template(
        "admin/money.html", report=report, problems=ledger_problems(session), group=group
    )

"""The operator console's supply and money pages: suppliers and their authorizations (those
lapsing within 30 days first) and performance, stock levels with their burn-down, code
batches (upload, sell-through, void), supplier statement reconciliation, webhook health,
margins of the last 30 days and the invariants report."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from flask import Response as Page
from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from app.admin import bp
from app.admin.charts import bar_chart
from app.admin.forms import (
    ActionForm,
    CodeBatchForm,
    DocumentForm,
    OfferEditForm,
    ProductEditForm,
    StatementForm,
)
from app.auth.web import STAFF
from app.billing import reconciliation
from app.billing.margins import margins
from app.billing.statements import MAX_STATEMENT_BYTES
from app.core.db import utcnow
from app.core.errors import ValidationFailed
from app.core.http import max_body_bytes, request_actor
from app.core.principal import requires
from app.core.vault import current_vault
from app.extensions import db
from app.fulfillment import stats
from app.invariants import ledger_problems
from app.supply import imports, products, stock, suppliers
from app.supply.models import Offer
from app.supply.schemas import OfferUpdateSchema, ProductSchema
from app.webhooks.health import endpoint_health

EXPIRING_DAYS = 30
STATS_DAYS = 7
BURN_DAYS = 14


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
        authorizations=suppliers.list_authorizations(session, 100, None).data,
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


@bp.route("/platform/suppliers")
@requires("platform:read", via=STAFF)
def supplier_performance() -> str:
    """Each supplier over the last 7 days: deliveries, failovers away from it, success rate,
    p50/p95 delivery time, in flight."""
    session = db.session()
    since = utcnow() - timedelta(days=STATS_DAYS)
    by_supplier = stats.all_supplier_stats(session, since)
    rows = [(s, by_supplier[s.id]) for s in suppliers.list_suppliers(session, 100, None).data]
    return render_template("admin/suppliers.html", rows=rows, days=STATS_DAYS)


@bp.route("/platform/stock")
@requires("platform:read", via=STAFF)
def stock_levels() -> str:
    """Every live product's stock, low ones first, with 14 days of sales and the days the
    stock lasts at that pace."""
    session = db.session()
    today = utcnow().date()
    first = today - timedelta(days=BURN_DAYS - 1)
    rows = []
    for product in products.list_products(session, 200, None).data:
        summary = stock.stock_summary(session, product)
        sold = sum(n for _, n in stats.units_per_day(session, product.id, first, today))
        per_day = sold / BURN_DAYS
        left = None if summary["unlimited"] or not per_day else summary["available"] / per_day
        rows.append((product, summary, sold, left))
    rows.sort(key=lambda r: (not r[0].is_low_stock, r[3] if r[3] is not None else 10**9))
    return render_template("admin/stock.html", rows=rows, days=BURN_DAYS)


@bp.route("/platform/products/<product_id>")
@requires("platform:read", via=STAFF)
def product_detail(product_id: str) -> str:
    """A product's stock and burn-down (units delivered per day), its settings and offers."""
    session = db.session()
    product = products.get_product(session, product_id)
    today = utcnow().date()
    first = today - timedelta(days=BURN_DAYS - 1)
    sold = stats.units_per_day(session, product.id, first, today)
    offers = [
        (offer, OfferEditForm(prefix=offer.id, priority=offer.priority,
                              cost=Decimal(offer.cost_minor) / 100, status=offer.status))
        for offer in product.offers
    ]  # fmt: skip
    return render_template(
        "admin/product.html",
        product=product,
        summary=stock.stock_summary(session, product),
        chart=bar_chart(sold, first, today),
        sold=sum(n for _, n in sold),
        days=BURN_DAYS,
        form=ProductEditForm(
            status=product.status,
            low_stock_threshold=product.low_stock_threshold,
            stock_capacity=product.stock_capacity,
        ),
        offers=offers,
        suppliers={s.id: s.name for s in suppliers.list_suppliers(session, 100, None).data},
    )


def _refused(errors: dict[str, Any], product_id: str) -> Response:
    flash(_("Nothing was changed: %(problems)s", problems=errors), "error")
    return redirect(url_for("admin.product_detail", product_id=product_id))


@bp.route("/platform/products/<product_id>", methods=["POST"])
@requires("platform", via=STAFF)
def update_product(product_id: str) -> Response:
    form = ProductEditForm()
    if not form.validate_on_submit():
        return _refused(form.errors, product_id)
    session = db.session()
    product = products.get_product(session, product_id)
    data = {"status": form.status.data, "low_stock_threshold": form.low_stock_threshold.data}
    if product.fulfillment_type != "card_key":
        data["stock_capacity"] = form.stock_capacity.data
    try:  # the API's own validation of a product change
        changes = ProductSchema(partial=True).load(data)
    except ValidationError as invalid:
        return _refused(invalid.messages_dict, product_id)
    products.update_product(session, request_actor(), product, changes)
    flash(_("The product is saved."), "ok")
    return redirect(url_for("admin.product_detail", product_id=product_id))


@bp.route("/platform/products/<product_id>/offers/<offer_id>", methods=["POST"])
@requires("platform", via=STAFF)
def update_offer(product_id: str, offer_id: str) -> Response:
    form = OfferEditForm(prefix=offer_id)
    if not form.validate_on_submit():
        return _refused(form.errors, product_id)
    session = db.session()
    offer = products.get_offer(session, product_id, offer_id)
    products.update_offer(
        session,
        request_actor(),
        offer,
        OfferUpdateSchema(partial=True).load(
            {
                "priority": form.priority.data,
                "status": form.status.data,
                "cost": {"amount": int((form.cost.data or 0) * 100), "currency": offer.currency},
            }
        ),
    )
    flash(_("The offer is saved."), "ok")
    return redirect(url_for("admin.product_detail", product_id=product_id))


@bp.route("/platform/authorizations/<authorization_id>")
@requires("platform:read", via=STAFF)
def authorization_detail(authorization_id: str) -> str:
    session = db.session()
    return render_template(
        "admin/authorization.html",
        authorization=suppliers.get_authorization(session, authorization_id),
        documents=suppliers.authorization_documents(session, authorization_id),
        form=DocumentForm(),
    )


@bp.route("/platform/authorizations/<authorization_id>/documents", methods=["POST"])
@requires("platform", via=STAFF)
@max_body_bytes(suppliers.MAX_DOCUMENT_BYTES + 64 * 1024)
def attach_authorization_document(authorization_id: str) -> Response:
    form = DocumentForm()
    back = redirect(url_for("admin.authorization_detail", authorization_id=authorization_id))
    if not form.validate_on_submit():
        flash(_("Choose a file."), "error")
        return back
    session = db.session()
    try:
        suppliers.attach_document(
            session,
            request_actor(),
            suppliers.get_authorization(session, authorization_id),
            form.file.data.filename or "",
            form.file.data.read(),
        )
        flash(_("The document is kept with the authorization."), "ok")
    except ValidationFailed as failed:
        flash(" ".join(failed.extra["errors"]["file"]), "error")
    return back


@bp.route("/platform/documents/<document_id>")
@requires("platform:read", via=STAFF)
def authorization_document(document_id: str) -> Page:
    document = suppliers.get_document(db.session(), document_id)
    filename = f"{document.id}-{_ascii(document.filename)}"
    return Page(
        document.content,
        mimetype=document.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


def _ascii(name: str) -> str:
    """A filename safe in a header (the stored one may be Chinese: the id keeps it unique)."""
    return "".join(c if c.isascii() and (c.isalnum() or c in ".-_") else "_" for c in name)


@bp.route("/platform/webhooks")
@requires("platform:read", via=STAFF)
def webhook_health() -> str:
    since = utcnow() - timedelta(hours=24)
    return render_template("admin/webhook_health.html", rows=endpoint_health(db.session(), since))


def _statement_form() -> StatementForm:
    form = StatementForm()
    form.supplier_id.choices = [
        (s.id, s.name) for s in suppliers.list_suppliers(db.session(), 100, None).data
    ]
    return form


@bp.route("/platform/reconciliations")
@requires("platform:read", via=STAFF)
def reconciliations() -> str:
    page = reconciliation.list_reconciliations(db.session(), None, 50, request.args.get("cursor"))
    return render_template("admin/reconciliations.html", page=page, form=_statement_form())


@bp.route("/platform/reconciliations", methods=["POST"])
@requires("platform", via=STAFF)
@max_body_bytes(MAX_STATEMENT_BYTES + 64 * 1024)
def upload_statement() -> Response:
    form = _statement_form()
    if not form.validate_on_submit():
        flash(_("Choose a supplier and its statement file."), "error")
        return redirect(url_for("admin.reconciliations"))
    session = db.session()
    run = reconciliation.reconcile_statement(
        session,
        request_actor(),
        suppliers.get_supplier(session, form.supplier_id.data or ""),
        form.file.data.read(),
        form.first.data,
        form.last.data,
        form.file.data.filename,
    )
    return redirect(url_for("admin.reconciliation_detail", reconciliation_id=run.id))


@bp.route("/platform/reconciliations/<reconciliation_id>")
@requires("platform:read", via=STAFF)
def reconciliation_detail(reconciliation_id: str) -> str:
    run = reconciliation.get_reconciliation(db.session(), reconciliation_id)
    problems = [item for item in run.items if item.kind != "matched"]
    return render_template("admin/reconciliation.html", run=run, problems=problems)

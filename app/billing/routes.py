"""Billing endpoints: a partner reads its account and invoices; the platform sets plans,
adjusts accounts, runs the invoice lifecycle, settles and reconciles suppliers, reads margins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Response, current_app, request
from flask_smorest import Blueprint

from app.accounts import plans
from app.accounts import service as accounts
from app.accounts.models import AccountEntry
from app.accounts.schemas import BillingPlanSchema
from app.billing import invoices, margins, reconciliation, settlement, statements
from app.billing.documents import invoice_file
from app.billing.models import Invoice
from app.billing.schemas import (
    AccountEntrySchema,
    AccountSchema,
    AdjustmentSchema,
    BillingPlanOutSchema,
    CreditLimitSchema,
    CreditNoteSchema,
    EntryQuerySchema,
    InvoiceFormatSchema,
    InvoiceGenerateSchema,
    InvoicePaymentSchema,
    InvoiceQuerySchema,
    InvoiceSchema,
    InvoiceUpdateSchema,
    MarginQuerySchema,
    MarginReportSchema,
    PlatformInvoiceQuerySchema,
    RangeSchema,
    ReconcileArgsSchema,
    ReconciliationSchema,
    ReconciliationSummarySchema,
    SettlementSchema,
    StatementFormSchema,
    TopUpSchema,
    VoidSchema,
)
from app.core.http import accepts_multipart, max_body_bytes, request_actor
from app.core.idempotency import idempotent
from app.core.openapi import raises
from app.core.pagination import Page, PageArgsSchema, page_schema
from app.core.principal import requires
from app.core.tenancy import current_partner_id
from app.extensions import db
from app.partners.models import Partner
from app.partners.service import get_partner
from app.supply.suppliers import get_supplier

blp = Blueprint(
    "billing", __name__, url_prefix="/api/v1", description="The partner's account and invoices"
)
platform_blp = Blueprint(
    "platform_billing",
    __name__,
    url_prefix="/api/v1/platform",
    description="Platform: billing plans, invoices, supplier settlement, reconciliation, margins",
)
DOCUMENT_FORMATS = {
    "application/json": "json",
    "text/csv": "csv",
    "application/pdf": "pdf",
}
DOCUMENT_DOC = {
    "responses": {
        "200": {
            "description": "The invoice as JSON, CSV (UTF-8) or PDF, as negotiated.",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Invoice"}},
                "text/csv": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    }
}


def _document(session: Any, invoice: Invoice, fmt: str | None) -> Any:
    """The invoice as JSON (the schema), CSV or PDF: `?format=` first, then the Accept header."""
    fmt = (
        fmt
        or DOCUMENT_FORMATS[
            request.accept_mimetypes.best_match(list(DOCUMENT_FORMATS)) or "application/json"
        ]
    )
    if fmt == "json":
        return invoice
    partner = session.get_one(Partner, invoice.partner_id)
    body, mimetype, filename = invoice_file(
        invoice,
        partner,
        fmt,
        current_app.config["INVOICE_ISSUER"],
        Path(current_app.config["PDF_FONT"]),
    )
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _entries(partner_id: str, args: dict[str, Any]) -> Page[AccountEntry]:
    return accounts.list_entries(
        db.session(), partner_id, args["kind"], args["limit"], args["cursor"]
    )


# --- the partner --------------------------------------------------------------------------


@blp.route("/account")
@requires("billing:read")
@blp.response(200, AccountSchema)
def get_own_account() -> Any:
    """Read your prepaid account.

    Balance, credit limit and currency of the account that pays the wholesale price of every
    order.
    """
    return accounts.account_for(db.session(), current_partner_id())


@blp.route("/account/entries")
@requires("billing:read")
@blp.arguments(EntryQuerySchema(), location="query")
@blp.response(200, page_schema(AccountEntrySchema))
def list_own_entries(args: dict[str, Any]) -> Any:
    """List account entries.

    The ledger, newest first: balance = the sum of every entry.
    """
    return _entries(current_partner_id(), args)


@blp.route("/invoices")
@requires("billing:read")
@blp.arguments(InvoiceQuerySchema(), location="query")
@blp.response(200, page_schema(InvoiceSchema))
def list_own_invoices(args: dict[str, Any]) -> Any:
    """List invoices.

    Issued, paid and void invoices and credit notes (drafts stay with the platform).
    """
    return invoices.list_invoices(
        db.session(),
        args["limit"],
        args["cursor"],
        current_partner_id(),
        own=True,
        status=args["status"],
        period=args["period"],
    )


@blp.route("/invoices/<invoice_id>")
@requires("billing:read")
@blp.arguments(InvoiceFormatSchema(), location="query")
@blp.response(200, InvoiceSchema)
@blp.doc(**DOCUMENT_DOC)
@raises("not_acceptable")
def get_own_invoice(args: dict[str, Any], invoice_id: str) -> Any:
    """Download an invoice.

    JSON, CSV or PDF (`Accept: text/csv` / `application/pdf`, or `?format=`).
    """
    session = db.session()
    invoice = invoices.get_invoice(session, invoice_id, current_partner_id())
    return _document(session, invoice, args["format"])


# --- the platform: plans and accounts ------------------------------------------------------


@platform_blp.route("/partners/<partner_id>/account")
@requires("platform")
@platform_blp.response(200, AccountSchema)
def get_account(partner_id: str) -> Any:
    """Read a partner's account.

    Balance, credit limit and currency of the partner's prepaid account.
    """
    session = db.session()
    get_partner(session, partner_id)
    return accounts.account_for(session, partner_id)


@platform_blp.route("/partners/<partner_id>/account/top-ups", methods=["POST"])
@requires("platform")
@idempotent
@platform_blp.arguments(TopUpSchema())
@platform_blp.response(201, AccountEntrySchema)
def top_up(data: dict[str, Any], partner_id: str) -> Any:
    """Top up a partner's account.

    Book money the partner paid in; an account entry records it.
    """
    session = db.session()
    get_partner(session, partner_id)
    return accounts.top_up(
        session, request_actor(), partner_id, data["amount"].amount, data["reason"]
    )


@platform_blp.route("/partners/<partner_id>/account/credit-limit", methods=["PUT"])
@requires("platform")
@platform_blp.arguments(CreditLimitSchema())
@platform_blp.response(200, AccountSchema)
def set_credit_limit(data: dict[str, Any], partner_id: str) -> Any:
    """Set a partner's credit limit.

    How far below zero the account may go.
    """
    session = db.session()
    get_partner(session, partner_id)
    actor = request_actor()
    account = accounts.set_credit_limit(session, actor, partner_id, data["credit_limit"].amount)
    if "low_balance_threshold" in data:
        threshold = data["low_balance_threshold"]
        accounts.set_low_balance_threshold(
            session, actor, partner_id, threshold.amount if threshold else None
        )
    return account


@platform_blp.route("/partners/<partner_id>/billing-plan")
@requires("platform")
@platform_blp.response(200, BillingPlanOutSchema)
def get_billing_plan(partner_id: str) -> Any:
    """Read a partner's billing plan.

    Monthly fee, per-order fees, VAT rate and payment terms.
    """
    session = db.session()
    get_partner(session, partner_id)
    return plans.plan_for(session, partner_id)


@platform_blp.route("/partners/<partner_id>/billing-plan", methods=["PUT"])
@requires("platform")
@platform_blp.arguments(BillingPlanSchema())
@platform_blp.response(200, BillingPlanOutSchema)
def set_billing_plan(data: dict[str, Any], partner_id: str) -> Any:
    """Set a partner's billing plan.

    Fields left out keep their value; invoices already generated keep their plan.
    """
    session = db.session()
    get_partner(session, partner_id)
    plan, _ = plans.set_plan(session, request_actor(), partner_id, data)
    return plan


@platform_blp.route("/partners/<partner_id>/account/adjustments", methods=["POST"])
@requires("platform")
@idempotent
@platform_blp.arguments(AdjustmentSchema())
@platform_blp.response(201, AccountEntrySchema)
def adjust_account(data: dict[str, Any], partner_id: str) -> Any:
    """Adjust a partner's account.

    A correction entry (positive or negative) with its reason; audited.
    """
    session = db.session()
    get_partner(session, partner_id)
    return accounts.adjust(
        session, request_actor(), partner_id, data["amount"].amount, data["reason"]
    )


@platform_blp.route("/partners/<partner_id>/account/entries")
@requires("platform")
@platform_blp.arguments(EntryQuerySchema(), location="query")
@platform_blp.response(200, page_schema(AccountEntrySchema))
def list_entries(args: dict[str, Any], partner_id: str) -> Any:
    """List a partner's account entries.

    The ledger, newest first.
    """
    get_partner(db.session(), partner_id)
    return _entries(partner_id, args)


# --- the platform: invoices ------------------------------------------------------------------


@platform_blp.route("/partners/<partner_id>/invoices", methods=["POST"])
@requires("platform")
@platform_blp.arguments(InvoiceGenerateSchema())
@platform_blp.response(200, InvoiceSchema)
@raises("invoice_immutable", "sandbox_not_billed")
def generate_invoice(data: dict[str, Any], partner_id: str) -> Any:
    """Generate a partner's invoice.

    Generate (or recompute the draft of) the partner's invoice for `month`; an issued invoice is
    returned unchanged. Running it twice makes one invoice.
    """
    session = db.session()
    partner = get_partner(session, partner_id)
    invoice, _ = invoices.generate_invoice(session, request_actor(), partner, data["month"])
    return invoice


@platform_blp.route("/invoices")
@requires("platform")
@platform_blp.arguments(PlatformInvoiceQuerySchema(), location="query")
@platform_blp.response(200, page_schema(InvoiceSchema))
def list_invoices(args: dict[str, Any]) -> Any:
    """List invoices.

    Every partner's invoices and credit notes, drafts included.
    """
    return invoices.list_invoices(
        db.session(),
        args["limit"],
        args["cursor"],
        args["partner_id"],
        status=args["status"],
        period=args["period"],
    )


@platform_blp.route("/invoices/<invoice_id>")
@requires("platform")
@platform_blp.arguments(InvoiceFormatSchema(), location="query")
@platform_blp.response(200, InvoiceSchema)
@platform_blp.doc(**DOCUMENT_DOC)
@raises("not_acceptable")
def get_invoice(args: dict[str, Any], invoice_id: str) -> Any:
    """Read or download an invoice.

    JSON, CSV or PDF (`Accept` or `?format=`).
    """
    session = db.session()
    return _document(session, invoices.get_invoice(session, invoice_id), args["format"])


@platform_blp.route("/invoices/<invoice_id>", methods=["PATCH"])
@requires("platform")
@platform_blp.arguments(InvoiceUpdateSchema())
@platform_blp.response(200, InvoiceSchema)
@raises("invoice_immutable")
def update_invoice(data: dict[str, Any], invoice_id: str) -> Any:
    """Update a draft invoice.

    Notes and due date of a draft; an issued invoice answers 409 `invoice_immutable`.
    """
    return invoices.update_invoice(db.session(), request_actor(), invoice_id, data)


@platform_blp.route("/invoices/<invoice_id>/issue", methods=["POST"])
@requires("platform")
@platform_blp.response(200, InvoiceSchema)
@raises("invoice_period_open", "invoice_state_conflict")
def issue_invoice(invoice_id: str) -> Any:
    """Issue an invoice.

    Freeze the draft (after its month has ended) and book its fees and VAT.
    """
    return invoices.issue_invoice(db.session(), request_actor(), invoice_id)


@platform_blp.route("/invoices/<invoice_id>/mark-paid", methods=["POST"])
@requires("platform")
@platform_blp.arguments(InvoicePaymentSchema())
@platform_blp.response(200, InvoiceSchema)
@raises("invoice_state_conflict")
def mark_paid(data: dict[str, Any], invoice_id: str) -> Any:
    """Mark an invoice paid.

    Record the payment of an issued invoice.
    """
    return invoices.mark_paid(db.session(), request_actor(), invoice_id, data["payment_ref"])


@platform_blp.route("/invoices/<invoice_id>/void", methods=["POST"])
@requires("platform")
@platform_blp.arguments(VoidSchema())
@platform_blp.response(200, InvoiceSchema)
@raises("invoice_state_conflict")
def void_invoice(data: dict[str, Any], invoice_id: str) -> Any:
    """Void an invoice.

    A draft, or an unpaid issued invoice (its fees and VAT are credited back).
    """
    return invoices.void_invoice(db.session(), request_actor(), invoice_id, data["reason"])


@platform_blp.route("/invoices/<invoice_id>/credit-notes", methods=["POST"])
@requires("platform")
@idempotent
@platform_blp.arguments(CreditNoteSchema())
@platform_blp.response(201, InvoiceSchema)
@raises("invoice_state_conflict")
def create_credit_note(data: dict[str, Any], invoice_id: str) -> Any:
    """Issue a credit note.

    Correct an issued invoice: a credit note (VAT added), credited to the account.
    """
    return invoices.create_credit_note(
        db.session(), request_actor(), invoice_id, data["amount"].amount, data["reason"]
    )


# --- the platform: suppliers and margins ---------------------------------------------------


@platform_blp.route("/suppliers/<supplier_id>/settlement")
@requires("platform")
@platform_blp.arguments(RangeSchema(), location="query")
@platform_blp.response(200, SettlementSchema)
def supplier_settlement(args: dict[str, Any], supplier_id: str) -> Any:
    """Compute a supplier settlement.

    What we owe the supplier for deliveries in [from, to) at offer cost.
    """
    session = db.session()
    supplier = get_supplier(session, supplier_id)
    start, end = settlement.day_bounds(args["from_"], args["to"])
    return settlement.supplier_settlement(session, supplier, start, end)


@platform_blp.route("/suppliers/<supplier_id>/reconciliations", methods=["POST"])
@accepts_multipart
@requires("platform")
@max_body_bytes(statements.MAX_STATEMENT_BYTES + 64 * 1024)
@platform_blp.arguments(ReconcileArgsSchema(), location="query")
@platform_blp.arguments(StatementFormSchema(), location="files")
@platform_blp.response(201, ReconciliationSchema)
@raises("payload_too_large")
def reconcile(args: dict[str, Any], files: dict[str, Any], supplier_id: str) -> Any:
    """Reconcile a supplier statement.

    Upload the supplier's statement (CSV: reference, supplier_order_no, status, amount in yuan,
    completed_at) as the multipart field `file`; the answer is the saved report.
    """
    session = db.session()
    supplier = get_supplier(session, supplier_id)
    upload = files["file"]
    return reconciliation.reconcile_statement(
        session,
        request_actor(),
        supplier,
        upload.read(),
        args["from_"],
        args["to"],
        upload.filename,
    )


@platform_blp.route("/suppliers/<supplier_id>/reconciliations")
@requires("platform")
@platform_blp.arguments(PageArgsSchema(), location="query")
@platform_blp.response(200, page_schema(ReconciliationSummarySchema))
def list_reconciliations(args: dict[str, Any], supplier_id: str) -> Any:
    """List a supplier's reconciliations.

    Saved reconciliation reports, newest first.
    """
    session = db.session()
    get_supplier(session, supplier_id)
    return reconciliation.list_reconciliations(session, supplier_id, args["limit"], args["cursor"])


@platform_blp.route("/reconciliations/<reconciliation_id>")
@requires("platform")
@platform_blp.response(200, ReconciliationSchema)
def get_reconciliation(reconciliation_id: str) -> Any:
    """Read a reconciliation.

    Matched, missing and mismatched lines of one statement.
    """
    return reconciliation.get_reconciliation(db.session(), reconciliation_id)


@platform_blp.route("/margins")
@requires("platform")
@platform_blp.arguments(MarginQuerySchema(), location="query")
@platform_blp.response(200, MarginReportSchema)
def get_margins(args: dict[str, Any]) -> Any:
    """Read margins.

    Revenue (wholesale + fees) minus supplier cost for orders placed in [from, to).
    """
    start, end = settlement.day_bounds(args["from_"], args["to"])
    return margins.margins(db.session(), start, end, args["group_by"])

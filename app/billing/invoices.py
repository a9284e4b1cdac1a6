"""Invoices: one per partner per month (in the plan's timezone), priced from what the ledger and
the orders already say. Generating is idempotent: a draft is recomputed in place, an issued
invoice is returned as it is. Issuing books the fees and VAT in the partner's ledger; voiding
credits them back; corrections of an issued invoice are credit notes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.models import AccountEntry
from app.accounts.plans import plan_for, plan_values
from app.accounts.service import account_for, post_entry
from app.billing.models import Invoice, InvoiceImmutable, InvoiceLine
from app.core.audit import Actor, record_audit, record_changes
from app.core.db import inline_count, utcnow
from app.core.errors import Conflict, NotFound, ValidationFailed
from app.core.pagination import Page, paginate
from app.orders.models import Order, OrderItem
from app.partners.models import Listing, Partner
from app.supply.models import Product
from app.webhooks.outbox import record_event

PERIOD_RE = re.compile(r"^(19[7-9]\d|2\d{3})-(0[1-9]|1[0-2])$")  # 1970-01 … 2999-12
FEE_KINDS = ("platform_fee", "order_fee", "wholesale_fee", "minimum_commitment")
# orders that end up giving everything back are not charged the per-order fee
UNCHARGED_ORDER_STATUSES = ("cancelled", "failed")
PAYMENT_TERM = timedelta(days=15)


class PeriodOpen(Conflict):
    code = "invoice_period_open"


class SandboxNotBilled(Conflict):
    code = "sandbox_not_billed"


class InvalidInvoiceState(Conflict):
    code = "invoice_state_conflict"


@dataclass(frozen=True)
class LineDraft:
    kind: str
    description: str
    amount_minor: int
    listing_id: str | None = None
    quantity: int | None = None
    unit_amount_minor: int | None = None


@dataclass
class Usage:
    """What happened in a period, in the units the plan prices."""

    wholesale: list[LineDraft] = field(default_factory=list)
    orders: int = 0
    refunds_count: int = 0
    refunds_minor: int = 0  # positive: what went back to the partner
    adjustments: list[LineDraft] = field(default_factory=list)


# --- periods -------------------------------------------------------------------------------


def parse_period(period: str) -> tuple[int, int]:
    match = PERIOD_RE.fullmatch(period or "")
    if not match:
        raise ValidationFailed({"month": ["Expected YYYY-MM (1970 to 2999), e.g. 2026-11."]})
    return int(match[1]), int(match[2])


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed({"timezone": [f"Unknown time zone {name!r}."]}) from None


def month_bounds(period: str, timezone: str) -> tuple[datetime, datetime]:
    """[start, end) of the month in `timezone`, as UTC instants."""
    year, month = parse_period(period)
    tz = zone(timezone)
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def period_of(moment: datetime, timezone: str) -> str:
    local = moment.astimezone(zone(timezone))
    return f"{local.year:04d}-{local.month:02d}"


def previous_period(now: datetime, timezone: str) -> str:
    local = now.astimezone(zone(timezone))
    first = local.replace(day=1)
    return period_of(first - timedelta(days=1), timezone)


# --- pricing -------------------------------------------------------------------------------


def percent_of(amount_minor: int, rate_bp: int) -> int:
    """amount × rate in basis points, rounded half away from zero (to the fen)."""
    magnitude = (abs(amount_minor) * rate_bp + 5_000) // 10_000
    return magnitude if amount_minor >= 0 else -magnitude


def vat_label(rate_bp: int) -> str:
    return f"VAT {rate_bp / 100:g}%"


def fees_of(invoice: Invoice) -> int:
    """What the invoice bills on top of wholesale (its fee lines, before VAT)."""
    return sum(line.amount_minor for line in invoice.lines if line.kind in FEE_KINDS)


def price_lines(plan: dict[str, Any], usage: Usage) -> list[LineDraft]:
    """The invoice's lines; the last is VAT, and the total is the sum of all of them."""
    lines = list(usage.wholesale)
    if usage.refunds_minor:
        lines.append(
            LineDraft(
                "refund",
                f"Refunds ({usage.refunds_count})",
                -usage.refunds_minor,
                quantity=usage.refunds_count,
            )
        )
    lines += usage.adjustments
    net_wholesale = sum(line.amount_minor for line in usage.wholesale) - usage.refunds_minor
    if plan["monthly_fee_minor"]:
        lines.append(LineDraft("platform_fee", "Monthly platform fee", plan["monthly_fee_minor"]))
    usage_fees = 0
    if plan["per_order_fee_minor"] and usage.orders:
        amount = plan["per_order_fee_minor"] * usage.orders
        usage_fees += amount
        lines.append(
            LineDraft(
                "order_fee",
                "Per-order fee",
                amount,
                quantity=usage.orders,
                unit_amount_minor=plan["per_order_fee_minor"],
            )
        )
    if plan["wholesale_fee_bp"] and net_wholesale > 0:
        amount = percent_of(net_wholesale, plan["wholesale_fee_bp"])
        usage_fees += amount
        rate = plan["wholesale_fee_bp"] / 100
        lines.append(LineDraft("wholesale_fee", f"Service fee {rate:g}% of wholesale", amount))
    shortfall = plan["minimum_commitment_minor"] - (max(net_wholesale, 0) + usage_fees)
    if plan["minimum_commitment_minor"] and shortfall > 0:
        lines.append(
            LineDraft("minimum_commitment", "Minimum monthly commitment shortfall", shortfall)
        )
    subtotal = sum(line.amount_minor for line in lines)
    vat = percent_of(subtotal, plan["vat_rate_bp"])
    lines.append(LineDraft("vat", vat_label(plan["vat_rate_bp"]), vat))
    return lines


def gather_usage(session: Session, partner_id: str, start: datetime, end: datetime) -> Usage:
    """Orders placed in [start, end) by listing and unit price; refunds and manual adjustments
    booked in [start, end). A refund of an earlier month's order lands in the month it happened."""
    usage = Usage()
    in_period = (Order.created_at >= start, Order.created_at < end)
    rows = session.execute(
        select(
            OrderItem.listing_id,
            Product.name,
            OrderItem.unit_wholesale_minor,
            func.sum(OrderItem.quantity),
        )
        .join(Order, Order.id == OrderItem.order_id)
        .join(Listing, Listing.id == OrderItem.listing_id)
        .join(Product, Product.id == Listing.product_id)
        .where(OrderItem.partner_id == partner_id, *in_period)
        .group_by(OrderItem.listing_id, Product.name, OrderItem.unit_wholesale_minor)
        .order_by(Product.name, OrderItem.listing_id, OrderItem.unit_wholesale_minor)
    ).all()
    usage.wholesale = [
        LineDraft("wholesale", name, int(units) * unit, listing_id, int(units), unit)
        for listing_id, name, unit, units in rows
        if unit and units
    ]
    usage.orders = (
        session.scalar(
            select(func.count(Order.id)).where(
                Order.partner_id == partner_id,
                *in_period,
                Order.wholesale_total_minor > 0,
                Order.status.not_in(UNCHARGED_ORDER_STATUSES),
            )
        )
        or 0
    )
    entries = session.scalars(
        select(AccountEntry)
        .where(
            AccountEntry.partner_id == partner_id,
            AccountEntry.kind.in_(("refund", "adjustment")),
            AccountEntry.created_at >= start,
            AccountEntry.created_at < end,
        )
        .order_by(AccountEntry.id)
    ).all()
    for entry in entries:
        if entry.kind == "refund":
            usage.refunds_count += 1
            usage.refunds_minor += entry.amount_minor
        else:
            usage.adjustments.append(
                LineDraft("adjustment", f"Adjustment: {entry.reason}", -entry.amount_minor)
            )
    return usage


# --- generation ----------------------------------------------------------------------------


def _set_lines(session: Session, invoice: Invoice, drafts: list[LineDraft]) -> None:
    for old in list(invoice.lines):
        session.delete(old)
    invoice.lines = [
        InvoiceLine(
            partner_id=invoice.partner_id,
            invoice_id=invoice.id,
            position=position,
            kind=d.kind,
            description=d.description[:300],
            listing_id=d.listing_id,
            quantity=d.quantity,
            unit_amount_minor=d.unit_amount_minor,
            amount_minor=d.amount_minor,
        )
        for position, d in enumerate(drafts)
    ]
    invoice.vat_minor = sum(d.amount_minor for d in drafts if d.kind == "vat")
    invoice.total_minor = sum(d.amount_minor for d in drafts)
    invoice.subtotal_minor = invoice.total_minor - invoice.vat_minor


def _price(session: Session, invoice: Invoice) -> None:
    """(Re)compute a draft with the partner's current plan, snapshotted on the invoice: its
    timezone sets the month's bounds, its fees and VAT the lines."""
    values = plan_values(plan_for(session, invoice.partner_id))
    invoice.plan, invoice.vat_rate_bp = values, values["vat_rate_bp"]
    invoice.currency, invoice.timezone = values["currency"], values["timezone"]
    invoice.period_start, invoice.period_end = month_bounds(invoice.period, invoice.timezone)
    usage = gather_usage(session, invoice.partner_id, invoice.period_start, invoice.period_end)
    _set_lines(session, invoice, price_lines(values, usage))


def generate_invoice(
    session: Session, actor: Actor, partner: Partner, period: str
) -> tuple[Invoice, bool]:
    """The partner's invoice for `period`: created (True), a draft recomputed, or an issued one
    returned unchanged. Serialized per partner by the account row lock, so two runs at once
    still make one invoice."""
    parse_period(period)
    if partner.is_sandbox:
        raise SandboxNotBilled("A sandbox partner's orders are test data; it is never invoiced.")
    account_for(session, partner.id, for_update=True)
    latest = session.scalars(
        select(Invoice)
        .where(
            Invoice.partner_id == partner.id, Invoice.kind == "invoice", Invoice.period == period
        )
        .order_by(Invoice.revision.desc())
        .limit(inline_count(1))
    ).first()
    if latest is not None and latest.status in ("issued", "paid"):
        return latest, False
    if latest is not None and latest.status == "draft":
        _price(session, latest)
        return latest, False
    revision = latest.revision + 1 if latest else 1
    suffix = f"-R{revision}" if revision > 1 else ""
    invoice = Invoice(
        partner_id=partner.id,
        number=f"QY-{partner.slug.upper()}-{period}{suffix}",
        kind="invoice",
        period=period,
        revision=revision,
        status="draft",
    )
    with session.no_autoflush:  # inserted once, complete
        _price(session, invoice)
    session.add(invoice)
    _audit(
        session,
        actor,
        "invoice.generated",
        invoice,
        {"number": invoice.number, "total_minor": invoice.total_minor},
    )
    return invoice, True


def generate_for_all(
    session: Session,
    actor: Actor,
    period: str | None,
    now: datetime | None = None,
    partner_slug: str | None = None,
) -> list[tuple[Invoice, bool]]:
    """Every active live partner's (or one's) invoice for `period` (default: each plan's previous
    month)."""
    now = now or utcnow()
    stmt = (
        select(Partner)
        .where(Partner.status == "active", Partner.sandbox_of_id.is_(None))
        .order_by(Partner.slug)
    )
    if partner_slug:
        stmt = stmt.where(Partner.slug == partner_slug)
    partners = session.scalars(stmt).all()
    return [
        generate_invoice(
            session,
            actor,
            partner,
            period or previous_period(now, plan_for(session, partner.id).timezone),
        )
        for partner in partners
    ]


# --- lifecycle -----------------------------------------------------------------------------


def get_invoice(
    session: Session, invoice_id: str, partner_id: str | None = None, for_update: bool = False
) -> Invoice:
    """Partners see their own issued, paid and void invoices; drafts are the platform's."""
    stmt = select(Invoice).where(Invoice.id == invoice_id)
    if partner_id is not None:
        stmt = stmt.where(Invoice.partner_id == partner_id, Invoice.status != "draft")
    invoice = session.scalars(stmt.with_for_update() if for_update else stmt).first()
    if invoice is None:
        raise NotFound("Invoice not found.")
    return invoice


def list_invoices(
    session: Session,
    limit: int,
    cursor: str | None,
    partner_id: str | None = None,
    *,
    own: bool = False,
    status: str | None = None,
    period: str | None = None,
) -> Page[Invoice]:
    """`own`: a partner listing its invoices (no drafts)."""
    stmt = select(Invoice)
    if partner_id is not None:
        stmt = stmt.where(Invoice.partner_id == partner_id)
    if own:
        stmt = stmt.where(Invoice.status != "draft")
    if status:
        stmt = stmt.where(Invoice.status == status)
    if period:
        stmt = stmt.where(Invoice.period == period)
    return paginate(session, stmt, Invoice.id, limit, cursor)


def _require(invoice: Invoice, *statuses: str) -> None:
    if invoice.status not in statuses:
        raise InvalidInvoiceState(
            f"Invoice {invoice.number} is {invoice.status}; this needs {' or '.join(statuses)}."
        )


def _book(session: Session, invoice: Invoice, reverse: bool = False) -> None:
    """Post the invoice's fees and VAT as owed, or (`reverse`) credit them back."""
    label = f"invoice {invoice.number}"
    for kind, amount in (("fee", fees_of(invoice)), ("tax", invoice.vat_minor)):
        if amount:
            booked_kind, signed = ("credit", amount) if reverse else (kind, -amount)
            post_entry(session, invoice.partner_id, booked_kind, signed, label)


def issue_invoice(
    session: Session, actor: Actor, invoice_id: str, now: datetime | None = None
) -> Invoice:
    """Price the draft one last time, freeze it, and book its fees and VAT."""
    now = now or utcnow()
    invoice = get_invoice(session, invoice_id, for_update=True)
    _require(invoice, "draft")
    account_for(session, invoice.partner_id, for_update=True)
    _price(session, invoice)
    if now < invoice.period_end:
        raise PeriodOpen(f"{invoice.period} is not over yet in {invoice.timezone}.")
    invoice.status, invoice.issued_at = "issued", now
    invoice.due_on = invoice.due_on or (now + PAYMENT_TERM).date()
    session.flush()  # the lines are final before anything else reads them
    _book(session, invoice)
    _audit(
        session,
        actor,
        "invoice.issued",
        invoice,
        {"number": invoice.number, "total_minor": invoice.total_minor},
    )
    record_event(session, "invoice.issued", _event_data(invoice), invoice.partner_id)
    return invoice


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    invoice: Invoice,
    after: dict[str, Any],
    before: dict[str, Any] | None = None,
) -> None:
    record_audit(
        session,
        actor,
        action,
        "invoice",
        invoice.id,
        partner_id=invoice.partner_id,
        before=before,
        after=after,
    )


def _event_data(invoice: Invoice) -> dict[str, Any]:
    return {
        "invoice_id": invoice.id,
        "number": invoice.number,
        "kind": invoice.kind,
        "period": invoice.period,
        "total": {"amount": invoice.total_minor, "currency": invoice.currency},
    }


def mark_paid(
    session: Session, actor: Actor, invoice_id: str, payment_ref: str, now: datetime | None = None
) -> Invoice:
    invoice = get_invoice(session, invoice_id, for_update=True)
    _require(invoice, "issued")
    invoice.status, invoice.paid_at, invoice.payment_ref = "paid", now or utcnow(), payment_ref
    _audit(session, actor, "invoice.paid", invoice, {"payment_ref": payment_ref})
    return invoice


def void_invoice(
    session: Session, actor: Actor, invoice_id: str, reason: str, now: datetime | None = None
) -> Invoice:
    """A draft or an unpaid issued invoice; an issued one's fees and VAT are credited back and
    the month can be generated again (as the next revision)."""
    invoice = get_invoice(session, invoice_id, for_update=True)
    _require(invoice, "draft", "issued")
    if invoice.kind != "invoice":
        raise InvalidInvoiceState("A credit note cannot be voided.")
    if invoice.status == "issued":
        _book(session, invoice, reverse=True)
    before = invoice.status
    invoice.status, invoice.voided_at, invoice.reason = "void", now or utcnow(), reason
    _audit(
        session,
        actor,
        "invoice.voided",
        invoice,
        {"status": "void", "reason": reason},
        before={"status": before},
    )
    return invoice


def create_credit_note(
    session: Session,
    actor: Actor,
    invoice_id: str,
    amount_minor: int,
    reason: str,
    now: datetime | None = None,
) -> Invoice:
    """Correct an issued (or paid) invoice: a credit note of `amount_minor` before VAT, issued at
    once, credited to the partner's account. Never more than what the invoice still bills."""
    now = now or utcnow()
    invoice = get_invoice(session, invoice_id, for_update=True)
    _require(invoice, "issued", "paid")
    if invoice.kind != "invoice":
        raise InvalidInvoiceState("Only an invoice can be credited.")
    account_for(session, invoice.partner_id, for_update=True)  # one numbering at a time
    notes = session.scalars(
        select(Invoice).where(Invoice.credited_invoice_id == invoice.id, Invoice.status != "void")
    ).all()
    open_minor = invoice.subtotal_minor + sum(n.subtotal_minor for n in notes)
    if amount_minor <= 0 or amount_minor > open_minor:
        raise ValidationFailed(
            {"amount": [f"Must be between 1 and {max(open_minor, 0)} (what is left to credit)."]}
        )
    sequence = len(notes) + 1
    note = Invoice(
        partner_id=invoice.partner_id,
        number=f"{invoice.number}-CN{sequence}",
        kind="credit_note",
        period=invoice.period,
        revision=(
            session.scalar(
                select(func.count(Invoice.id)).where(
                    Invoice.partner_id == invoice.partner_id,
                    Invoice.kind == "credit_note",
                    Invoice.period == invoice.period,
                )
            )
            or 0
        )
        + 1,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        timezone=invoice.timezone,
        status="issued",
        currency=invoice.currency,
        vat_rate_bp=invoice.vat_rate_bp,
        plan=invoice.plan,
        credited_invoice_id=invoice.id,
        reason=reason,
        issued_at=now,
        due_on=now.date(),
    )
    session.add(note)
    vat = percent_of(-amount_minor, invoice.vat_rate_bp)
    _set_lines(
        session,
        note,
        [
            LineDraft("credit", f"Credit on {invoice.number}: {reason}", -amount_minor),
            LineDraft("vat", vat_label(invoice.vat_rate_bp), vat),
        ],
    )
    post_entry(
        session, invoice.partner_id, "credit", -note.total_minor, f"credit note {note.number}"
    )
    _audit(
        session,
        actor,
        "invoice.credited",
        invoice,
        {"credit_note": note.number, "amount_minor": amount_minor, "reason": reason},
    )
    record_event(session, "invoice.issued", _event_data(note), invoice.partner_id)
    return note


def update_invoice(
    session: Session, actor: Actor, invoice_id: str, data: dict[str, Any]
) -> Invoice:
    """Notes and due date, on a draft only: anything issued is final."""
    invoice = get_invoice(session, invoice_id, for_update=True)
    if invoice.status != "draft":
        raise InvoiceImmutable(
            f"Invoice {invoice.number} is {invoice.status}; issue a credit note to correct it."
        )
    before = {"notes": invoice.notes, "due_on": _iso(invoice.due_on)}
    for name in ("notes", "due_on"):
        if name in data:
            setattr(invoice, name, data[name])
    record_changes(
        session,
        actor,
        "invoice.updated",
        "invoice",
        invoice.id,
        before,
        {"notes": invoice.notes, "due_on": _iso(invoice.due_on)},
        partner_id=invoice.partner_id,
    )
    return invoice


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None

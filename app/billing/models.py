"""Invoices and supplier reconciliations (the partner account and plan: app/accounts)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint, event
from sqlalchemy import inspect as inspect_state
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from app.core.audit import JSONType
from app.core.db import Base, PublicIdMixin, TimestampMixin
from app.core.errors import Conflict
from app.core.money import PLATFORM_CURRENCY
from app.core.tenancy import PartnerOwnedMixin

INVOICE_STATUSES = ("draft", "issued", "paid", "void")


class Invoice(PublicIdMixin, PartnerOwnedMixin, TimestampMixin, Base):
    """A month's bill (kind invoice) or a correction of one (kind credit_note). Once issued its
    lines and amounts never change: only issued → paid | void (enforced in before_flush)."""

    __tablename__ = "invoices"
    id_prefix = "inv"

    number: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="invoice")
    period: Mapped[str] = mapped_column(String(7))  # YYYY-MM in the plan's timezone
    revision: Mapped[int] = mapped_column(Integer, default=1)
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    timezone: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), default="draft")
    currency: Mapped[str] = mapped_column(String(3), default=PLATFORM_CURRENCY)
    subtotal_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    vat_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    total_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    vat_rate_bp: Mapped[int] = mapped_column(Integer)
    plan: Mapped[dict[str, Any]] = mapped_column(JSONType)
    credited_invoice_id: Mapped[str | None] = mapped_column(ForeignKey("invoices.id"))
    notes: Mapped[str | None] = mapped_column(String(500))
    due_on: Mapped[date | None]
    reason: Mapped[str | None] = mapped_column(String(200))
    payment_ref: Mapped[str | None] = mapped_column(String(120))
    issued_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]

    lines: Mapped[list[InvoiceLine]] = relationship(
        order_by="InvoiceLine.position", lazy="selectin", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("partner_id", "kind", "period", "revision"),
        Index("ix_invoices_partner_id_id", "partner_id", "id"),
    )


class InvoiceImmutable(Conflict):
    code = "invoice_immutable"


# issued → paid | void is all that may happen to an issued invoice: these columns only
SETTLEMENT_COLUMNS = {"status", "paid_at", "voided_at", "payment_ref", "reason", "updated_at"}
NEXT_STATUSES = {"draft": {"draft", "issued", "void"}, "issued": {"issued", "paid", "void"}}


def _committed(obj: Any, attribute: str) -> Any:
    history = inspect_state(obj).attrs[attribute].history
    return (history.deleted or history.unchanged or history.added or [None])[0]


@event.listens_for(Session, "before_flush")
def _guard_issued_invoices(session: Session, *_: Any) -> None:
    """The last line of defence: whatever code path tries it, an issued invoice's amounts and
    lines cannot be flushed changed (corrections go through a credit note)."""
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, Invoice):
            was = _committed(obj, "status")
            if was == "draft" and obj not in session.deleted:
                if obj.status not in NEXT_STATUSES["draft"]:
                    raise InvoiceImmutable(f"A draft invoice cannot become {obj.status}.")
                continue
            state = inspect_state(obj)
            changed = {a.key for a in state.attrs if a.history.has_changes()}
            if (
                obj in session.deleted
                or changed - SETTLEMENT_COLUMNS
                or obj.status not in NEXT_STATUSES.get(was, {was})
            ):
                raise InvoiceImmutable(f"Invoice {obj.number} is {was} and cannot change.")
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if isinstance(obj, InvoiceLine):
            invoice = session.get(Invoice, obj.invoice_id) if obj.invoice_id else None
            if (
                invoice is not None
                and invoice not in session.new
                and _committed(invoice, "status") != "draft"
            ):
                raise InvoiceImmutable(f"Invoice {invoice.number} is issued: lines are final.")


class InvoiceLine(PublicIdMixin, PartnerOwnedMixin, Base):
    __tablename__ = "invoice_lines"
    id_prefix = "inl"

    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(24))
    description: Mapped[str] = mapped_column(String(300))
    listing_id: Mapped[str | None] = mapped_column(String(40))
    quantity: Mapped[int | None] = mapped_column(Integer)
    unit_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    amount_minor: Mapped[int] = mapped_column(BigInteger)


class Reconciliation(PublicIdMixin, TimestampMixin, Base):
    """One supplier statement matched against our deliveries: the report finance works from."""

    __tablename__ = "reconciliations"
    id_prefix = "rcn"

    supplier_id: Mapped[str] = mapped_column(ForeignKey("suppliers.id"), index=True)
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    source_name: Mapped[str | None] = mapped_column(String(255))
    row_count: Mapped[int] = mapped_column(Integer)
    counts: Mapped[dict[str, int]] = mapped_column(JSONType)
    their_total_minor: Mapped[int] = mapped_column(BigInteger)
    our_total_minor: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str] = mapped_column(String(120))

    items: Mapped[list[ReconciliationItem]] = relationship(
        order_by="ReconciliationItem.position", lazy="selectin", cascade="all, delete-orphan"
    )


class ReconciliationItem(PublicIdMixin, Base):
    __tablename__ = "reconciliation_items"
    id_prefix = "rci"

    reconciliation_id: Mapped[str] = mapped_column(ForeignKey("reconciliations.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    line: Mapped[int | None] = mapped_column(Integer)  # statement line, when the row is theirs
    reference: Mapped[str | None] = mapped_column(String(120))
    supplier_order_no: Mapped[str | None] = mapped_column(String(120))
    delivery_id: Mapped[str | None] = mapped_column(String(40), index=True)
    partner_id: Mapped[str | None] = mapped_column(String(40))
    their_status: Mapped[str | None] = mapped_column(String(16))
    our_status: Mapped[str | None] = mapped_column(String(16))
    their_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    our_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(String(300))

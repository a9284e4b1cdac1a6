"""The partner account (prepaid balance plus a credit limit, and the ledger that explains it)
and the billing plan: what a partner pays, as orders and invoices post it.
Invariant: balance_minor = sum of the entries' amounts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.audit import JSONType
from app.core.db import Base, PublicIdMixin, TimestampMixin, utcnow
from app.core.money import PLATFORM_CURRENCY, Money
from app.core.tenancy import PartnerOwnedMixin

# topup/charge/refund/adjustment come from money and orders; fee/tax are posted when an invoice
# is issued; credit gives them back (a credit note, a voided invoice) and never reappears as an
# invoice line, so nothing is billed twice.
ENTRY_KINDS = ("topup", "charge", "refund", "fee", "tax", "adjustment", "credit")


class PartnerAccount(TimestampMixin, Base):
    __tablename__ = "partner_accounts"

    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), default=PLATFORM_CURRENCY)
    balance_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    credit_limit_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    # `partner.balance_low` fires once when the available amount falls below this
    low_balance_threshold_minor: Mapped[int | None] = mapped_column(BigInteger)
    is_balance_low: Mapped[bool] = mapped_column(default=False)
    # who is mailed when the balance falls low (at most once per 24 hours, app/accounts/alerts.py)
    low_balance_recipients: Mapped[list[str]] = mapped_column(JSONType, default=list)
    low_balance_alerted_at: Mapped[datetime | None]

    @property
    def balance(self) -> Money:
        return Money(self.balance_minor, self.currency)

    @property
    def credit_limit(self) -> Money:
        return Money(self.credit_limit_minor, self.currency)

    @property
    def available(self) -> Money:
        return Money(self.balance_minor + self.credit_limit_minor, self.currency)


class AccountEntry(PublicIdMixin, PartnerOwnedMixin, Base):
    __tablename__ = "account_entries"
    id_prefix = "ace"

    kind: Mapped[str] = mapped_column(String(16))
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # signed: charges are negative
    currency: Mapped[str] = mapped_column(String(3), default=PLATFORM_CURRENCY)
    balance_after_minor: Mapped[int] = mapped_column(BigInteger)
    order_id: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_account_entries_partner_id_id", "partner_id", "id"),)


TOP_UP_STATUSES = ("requested", "credited", "rejected")


class TopUpRequest(PublicIdMixin, PartnerOwnedMixin, TimestampMixin, Base):
    """A partner's notice that it sent money (a bank transfer, with its reference): the
    platform's finance credits the account once the money is seen, or rejects the request."""

    __tablename__ = "top_up_requests"
    id_prefix = "tpr"

    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default=PLATFORM_CURRENCY)
    payment_reference: Mapped[str] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="requested")
    requested_by: Mapped[str] = mapped_column(String(120))
    decided_by: Mapped[str | None] = mapped_column(String(120))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(String(500))
    entry_id: Mapped[str | None] = mapped_column(String(40))  # the top-up entry, once credited

    __table_args__ = (
        Index("ix_top_up_requests_partner_id_id", "partner_id", "id"),
        Index("ix_top_up_requests_status", "status"),
    )


class BillingPlan(TimestampMixin, Base):
    """What a partner pays us on top of wholesale. Rates are basis points (600 = 6 %)."""

    __tablename__ = "billing_plans"

    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), default=PLATFORM_CURRENCY)
    monthly_fee_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    per_order_fee_minor: Mapped[int] = mapped_column(Integer, default=0)
    wholesale_fee_bp: Mapped[int] = mapped_column(Integer, default=0)
    minimum_commitment_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    vat_rate_bp: Mapped[int] = mapped_column(Integer, default=600)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")

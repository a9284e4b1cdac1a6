"""Partner account movements. Each takes the account row lock, so concurrent orders of one
partner can never spend past balance + credit."""

from __future__ import annotations

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from app.accounts.models import AccountEntry, PartnerAccount
from app.core.audit import Actor, record_audit
from app.core.db import dialect_insert, utcnow
from app.core.errors import DomainError, ValidationFailed
from app.core.money import PLATFORM_CURRENCY
from app.core.pagination import Page, paginate
from app.core.queue import enqueue_after_commit
from app.core.tenancy import scoped
from app.webhooks.outbox import record_event


class InsufficientPartnerBalance(DomainError):
    code = "insufficient_partner_balance"


def account_for(session: Session, partner_id: str, for_update: bool = False) -> PartnerAccount:
    """The partner's account, opened on first use (race-free: INSERT … ON CONFLICT DO NOTHING).
    Locked, it is re-read: a copy loaded earlier in the session would keep a stale balance."""
    stmt = select(PartnerAccount).where(PartnerAccount.partner_id == partner_id)
    if for_update:
        stmt = stmt.execution_options(populate_existing=True)
    account = session.scalars(stmt.with_for_update() if for_update else stmt).first()
    if account is None:
        now = utcnow()
        session.execute(
            dialect_insert(session, PartnerAccount)
            .values(
                partner_id=partner_id,
                currency=PLATFORM_CURRENCY,
                balance_minor=0,
                credit_limit_minor=0,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["partner_id"])
        )
        account = session.scalars(stmt.with_for_update() if for_update else stmt).one()
    return account


def account_mismatches(session: Session) -> list[str]:
    """Accounts whose balance is not the sum of their ledger entries (the invariant every
    movement keeps); empty when the books balance."""
    entries = (
        select(AccountEntry.partner_id, func.sum(AccountEntry.amount_minor).label("total"))
        .group_by(AccountEntry.partner_id)
        .subquery()
    )
    rows = session.execute(
        select(PartnerAccount.partner_id, PartnerAccount.balance_minor, entries.c.total)
        .outerjoin(entries, entries.c.partner_id == PartnerAccount.partner_id)
        .where(PartnerAccount.balance_minor != func.coalesce(entries.c.total, 0))
        .order_by(PartnerAccount.partner_id)
    ).all()
    return [
        f"account {partner_id}: balance {balance} != entries {total or 0}"
        for partner_id, balance, total in rows
    ]


def _move(
    session: Session,
    account: PartnerAccount,
    kind: str,
    amount_minor: int,
    actor: str,
    order_id: str | None = None,
    reason: str | None = None,
) -> AccountEntry:
    account.balance_minor += amount_minor
    entry = AccountEntry(
        partner_id=account.partner_id,
        kind=kind,
        amount_minor=amount_minor,
        currency=account.currency,
        balance_after_minor=account.balance_minor,
        order_id=order_id,
        reason=reason,
        actor=actor,
    )
    session.add(entry)
    _rearm_low_balance(account)
    if amount_minor < 0 and _announce_if_low(
        session,
        account.partner_id,
        account.available.amount,
        account.low_balance_threshold_minor,
        account.is_balance_low,
        account.currency,
    ):
        account.is_balance_low = True
    return entry


# Check and debit in one statement: the account can never be charged past balance + credit.
_CHARGE = (
    update(PartnerAccount)
    .where(
        PartnerAccount.partner_id == bindparam("charged_partner_id"),
        PartnerAccount.balance_minor - bindparam("amount") >= -PartnerAccount.credit_limit_minor,
    )
    .values(
        balance_minor=PartnerAccount.balance_minor - bindparam("amount"),
        updated_at=bindparam("charged_at"),
    )
    .returning(
        PartnerAccount.balance_minor,
        PartnerAccount.credit_limit_minor,
        PartnerAccount.currency,
        PartnerAccount.low_balance_threshold_minor,
        PartnerAccount.is_balance_low,
    )
)


def charge_order(
    session: Session, partner_id: str, amount_minor: int, order_id: str
) -> AccountEntry:
    """Charge the wholesale total of an order, or raise InsufficientPartnerBalance.

    One conditional UPDATE … RETURNING on the account row, whose lock is then held until the
    order commits (so callers take it last: the lock order in app/orders/checkout.py)."""
    now = utcnow()
    charged = session.execute(
        _CHARGE,
        {"charged_partner_id": partner_id, "amount": amount_minor, "charged_at": now},
        execution_options={"synchronize_session": False},
    ).first()
    if charged is None:
        account_for(session, partner_id)  # opens a missing account; it is simply short
        raise InsufficientPartnerBalance(
            "The partner account (balance + credit) cannot cover this order's wholesale price."
        )
    entry = AccountEntry(
        partner_id=partner_id,
        kind="charge",
        amount_minor=-amount_minor,
        currency=charged.currency,
        balance_after_minor=charged.balance_minor,
        order_id=order_id,
        reason="order",
        actor="system",
        created_at=now,
    )
    session.add(entry)
    available = charged.balance_minor + charged.credit_limit_minor
    if _announce_if_low(
        session,
        partner_id,
        available,
        charged.low_balance_threshold_minor,
        charged.is_balance_low,
        charged.currency,
    ):
        _flag_low_balance(session, partner_id)
    return entry


def _announce_if_low(
    session: Session,
    partner_id: str,
    available: int,
    threshold: int | None,
    already_low: bool,
    currency: str,
) -> bool:
    """`partner.balance_low` once per crossing, and the alert mail (at most once a day: the
    job decides); True when it was announced now."""
    if threshold is None or available >= threshold or already_low:
        return False
    enqueue_after_commit(session, "app.accounts.jobs.alert_low_balance", partner_id)
    record_event(
        session,
        "partner.balance_low",
        {
            "available": {"amount": available, "currency": currency},
            "threshold": {"amount": threshold, "currency": currency},
        },
        partner_id,
    )
    return True


def _flag_low_balance(session: Session, partner_id: str) -> None:
    session.execute(
        update(PartnerAccount)
        .where(PartnerAccount.partner_id == partner_id)
        .values(is_balance_low=True)
        .execution_options(synchronize_session=False)
    )


def _rearm_low_balance(account: PartnerAccount) -> None:
    """Money came in: once above the threshold again, the next fall is announced again."""
    threshold = account.low_balance_threshold_minor
    if account.is_balance_low and (threshold is None or account.available.amount >= threshold):
        account.is_balance_low = False


def set_low_balance_threshold(
    session: Session, actor: Actor, partner_id: str, threshold_minor: int | None
) -> PartnerAccount:
    account = account_for(session, partner_id, for_update=True)
    before = account.low_balance_threshold_minor
    account.low_balance_threshold_minor = threshold_minor
    _rearm_low_balance(account)
    record_audit(
        session,
        actor,
        "account.low_balance_threshold_set",
        "partner_account",
        partner_id,
        partner_id=partner_id,
        before={"threshold_minor": before},
        after={"threshold_minor": threshold_minor},
    )
    return account


def post_entry(
    session: Session,
    partner_id: str,
    kind: str,
    amount_minor: int,
    reason: str,
    order_id: str | None = None,
) -> AccountEntry:
    """Book a system movement: a refund, an invoice's fees and tax, or their credit. Not
    limited by balance + credit: what was billed is owed whatever the balance; the next order
    simply meets the limit."""
    account = account_for(session, partner_id, for_update=True)
    return _move(session, account, kind, amount_minor, "system", order_id, reason)


def adjust(
    session: Session, actor: Actor, partner_id: str, amount_minor: int, reason: str
) -> AccountEntry:
    """A manual correction (either sign), always with the reason and who made it. It appears on
    the month's invoice as a line of its own."""
    if amount_minor == 0:
        raise ValidationFailed({"amount": ["Must not be zero."]})
    if not reason.strip():
        raise ValidationFailed({"reason": ["A manual adjustment needs a reason."]})
    return _operator_move(session, actor, partner_id, "adjustment", amount_minor, reason)


def _operator_move(
    session: Session,
    actor: Actor,
    partner_id: str,
    kind: str,
    amount_minor: int,
    reason: str | None,
) -> AccountEntry:
    """Money moved by a person or a client (not an order): the entry names them, and it is
    audited."""
    account = account_for(session, partner_id, for_update=True)
    entry = _move(session, account, kind, amount_minor, f"{actor.kind}:{actor.id}", reason=reason)
    record_audit(
        session,
        actor,
        f"account.{kind}",
        "partner_account",
        partner_id,
        partner_id=partner_id,
        after={
            "entry_id": entry.id,
            "amount_minor": amount_minor,
            "reason": reason,
            "balance_minor": account.balance_minor,
        },
    )
    return entry


def refund_order(
    session: Session, partner_id: str, amount_minor: int, order_id: str, reason: str
) -> AccountEntry:
    return post_entry(session, partner_id, "refund", amount_minor, reason, order_id)


def top_up(
    session: Session, actor: Actor, partner_id: str, amount_minor: int, reason: str | None
) -> AccountEntry:
    if amount_minor <= 0:
        raise ValidationFailed({"amount": ["Must be positive."]})
    return _operator_move(session, actor, partner_id, "topup", amount_minor, reason)


def set_credit_limit(
    session: Session, actor: Actor, partner_id: str, credit_limit_minor: int
) -> PartnerAccount:
    if credit_limit_minor < 0:
        raise ValidationFailed({"credit_limit": ["Must not be negative."]})
    account = account_for(session, partner_id, for_update=True)
    before = account.credit_limit_minor
    account.credit_limit_minor = credit_limit_minor
    record_audit(
        session,
        actor,
        "account.credit_limit_set",
        "partner_account",
        partner_id,
        partner_id=partner_id,
        before={"credit_limit_minor": before},
        after={"credit_limit_minor": credit_limit_minor},
    )
    return account


def list_entries(
    session: Session, partner_id: str, kind: str | None, limit: int, cursor: str | None
) -> Page[AccountEntry]:
    """The account's ledger, newest first (balance = the sum of every entry)."""
    stmt = scoped(AccountEntry, partner_id)
    if kind:
        stmt = stmt.where(AccountEntry.kind == kind)
    return paginate(session, stmt, AccountEntry.id, limit, cursor)

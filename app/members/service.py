"""Members and their points ledger.

Every points movement locks the member row first (SELECT … FOR UPDATE), so movements of one
member are serialized while different members proceed in parallel; points never go negative.
A lock always re-reads the row (populate_existing): a member loaded earlier in the session
(an order's eager `member`) would otherwise keep the balance it had before the lock, and the
next movement would write that stale balance back. Locks follow the order in
app/orders/checkout.py: member, then its points lots.

Invariant (`ledger_mismatches`): balance = sum of ledger deltas = sum of lots' remaining, and
no lot holds more than it was granted.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from app.core.audit import Actor, changed_fields, record_audit
from app.core.commands import Changes
from app.core.db import inline_count, utcnow
from app.core.errors import ValidationFailed
from app.core.money import INTEGER_MAX
from app.core.pagination import Page, paginate
from app.core.tenancy import scoped
from app.core.vault import Vault
from app.members import external
from app.members.errors import InsufficientPoints, MemberNotFound, PointsBalanceLimit
from app.members.models import Member, PointsEntry, PointsLot

EXTERNAL_ID_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")
MEMBER_FIELDS = ("display_name", "tier", "status", "extra", "language", "notifications")


@dataclass(frozen=True)
class MemberChanges(Changes):
    """What a partner says of its member; only the fields it names change (`given`). A phone is
    sealed by the vault; None clears it."""

    display_name: str | None = None
    tier: str | None = None
    status: str = "active"
    extra: dict[str, Any] = field(default_factory=dict)
    phone: str | None = None
    email: str | None = None
    language: str | None = None
    notifications: bool = True


def _snapshot(m: Member) -> dict[str, Any]:
    """The audited view: the phone only masked (the audit log is no place for personal data)."""
    return {
        **{f: getattr(m, f) for f in MEMBER_FIELDS},
        "phone": m.phone_masked,
        "email": m.email_masked,
    }


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) > 7 else "****"


def set_phone(member: Member, vault: Vault, phone: str | None) -> None:
    """Seal the member's phone (bound to the member's id), keep its fingerprint for look-ups
    and its masked form for display; None clears it."""
    _seal_contact(member, vault, "phone", phone, mask_phone(phone) if phone else None)
    member.phone_fingerprint = vault.fingerprint(phone) if phone is not None else None


def mask_email(email: str) -> str:
    name, _, domain = email.partition("@")
    return f"{name[:1]}***@{domain}"


def set_email(member: Member, vault: Vault, email: str | None) -> None:
    """Seal the member's e-mail address (for its notifications); None clears it."""
    _seal_contact(member, vault, "email", email, mask_email(email) if email else None)


def _seal_contact(
    member: Member, vault: Vault, kind: str, value: str | None, masked: str | None
) -> None:
    sealed = vault.seal(value, f"member:{member.id}:{kind}") if value is not None else None
    setattr(member, f"{kind}_key_id", sealed.key_id if sealed else None)
    setattr(member, f"{kind}_blob", sealed.blob if sealed else None)
    setattr(member, f"{kind}_masked", masked)


def _open_contact(vault: Vault, member: Member, kind: str) -> str | None:
    key_id, blob = getattr(member, f"{kind}_key_id"), getattr(member, f"{kind}_blob")
    if key_id is None or blob is None:
        return None
    return vault.open(key_id, blob, f"member:{member.id}:{kind}")


def member_phone(vault: Vault, member: Member) -> str | None:
    """The phone in clear, for the uses that need it: a direct recharge to it, a text."""
    return _open_contact(vault, member, "phone")


def member_email(vault: Vault, member: Member) -> str | None:
    return _open_contact(vault, member, "email")


def reseal_phones(session: Session, vault: Vault, limit: int = 500) -> int:
    """Re-seal up to `limit` members' phones and e-mail addresses not sealed by the current key
    (key rotation, beside live traffic: rows locked elsewhere are left for the next call).
    Returns how many members."""
    members = session.scalars(
        select(Member)
        .where(
            or_(
                Member.phone_key_id != vault.current_key_id,
                Member.email_key_id != vault.current_key_id,
            )
        )
        .limit(inline_count(limit))
        .with_for_update(skip_locked=True)
    ).all()
    for member in members:
        set_phone(member, vault, member_phone(vault, member))
        set_email(member, vault, member_email(vault, member))
    return len(members)


def phone_key_usage(session: Session) -> dict[str, int]:
    """How many members' phones and e-mail addresses each key id still opens."""
    usage: Counter[str] = Counter()
    for column in (Member.phone_key_id, Member.email_key_id):
        for key_id, count in session.execute(
            select(column, func.count()).where(column.is_not(None)).group_by(column)
        ):
            if key_id is not None:  # (the query's filter says so; the type does not)
                usage[key_id] += count
    return dict(usage)


def find_members_by_phone(
    session: Session, vault: Vault, partner_id: str, phone: str
) -> list[Member]:
    return list(
        session.scalars(
            scoped(Member, partner_id)
            .where(Member.phone_fingerprint == vault.fingerprint(phone))
            .order_by(Member.id)
        )
    )


_MEMBER = select(Member).where(
    Member.partner_id == bindparam("partner_id"), Member.external_id == bindparam("external_id")
)
_MEMBER_FOR_UPDATE = _MEMBER.with_for_update().execution_options(populate_existing=True)
_MEMBER_BY_ID_FOR_UPDATE = (
    select(Member)
    .where(Member.id == bindparam("member_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)
_SPENDABLE_LOTS = (
    select(PointsLot)
    .where(PointsLot.member_id == bindparam("member_id"), PointsLot.remaining > 0)
    .order_by(PointsLot.expires_at.asc().nulls_last(), PointsLot.id)
    .with_for_update()
    .execution_options(populate_existing=True)
)


def find_member(
    session: Session, partner_id: str, external_id: str, for_update: bool = False
) -> Member:
    stmt = _MEMBER_FOR_UPDATE if for_update else _MEMBER
    member = session.scalars(stmt, {"partner_id": partner_id, "external_id": external_id}).first()
    if member is None:
        raise MemberNotFound(f"No member {external_id!r}.")
    return member


def lock_member(session: Session, member_id: str) -> Member:
    """The member by id, locked and re-read (its balance is the committed one, not a copy
    loaded before the lock); this session's own changes are flushed first, never lost."""
    return session.scalars(_MEMBER_BY_ID_FOR_UPDATE, {"member_id": member_id}).one()


def upsert_member(
    session: Session,
    actor: Actor,
    partner_id: str,
    external_id: str,
    changes: MemberChanges,
    vault: Vault | None = None,
) -> tuple[Member, bool]:
    """Create or update by the partner's own id; returns (member, created). A phone among the
    changes is sealed with `vault`."""
    if not EXTERNAL_ID_RE.fullmatch(external_id):
        raise ValidationFailed({"external_id": ["1 to 128 of A-Z a-z 0-9 _ . : @ -"]})
    member = session.scalars(
        scoped(Member, partner_id).where(Member.external_id == external_id)
    ).first()
    created = member is None
    if member is None:
        member = Member(partner_id=partner_id, external_id=external_id, points_balance=0, extra={})
        session.add(member)
    before = _snapshot(member)
    named = changes.named()
    for key in MEMBER_FIELDS:
        if key in named:
            setattr(member, key, named[key])
    if "phone" in named or "email" in named:
        if vault is None:
            raise ValueError("a phone or e-mail address is sealed with the vault")
        session.flush()  # the member's id binds the sealed phone
        if "phone" in named:
            set_phone(member, vault, changes.phone)
        if "email" in named:
            set_email(member, vault, changes.email)
    session.flush()
    after = _snapshot(member)
    changed = changed_fields(before, after)
    if created or changed:
        record_audit(
            session,
            actor,
            "member.created" if created else "member.updated",
            "member",
            member.id,
            partner_id=partner_id,
            before=None if created else {k: before[k] for k in changed},
            after=after if created else {k: after[k] for k in changed},
        )
    return member, created


def list_members(session: Session, partner_id: str, limit: int, cursor: str | None) -> Page[Member]:
    return paginate(session, scoped(Member, partner_id), Member.id, limit, cursor)


def _entry(member: Member, kind: str, delta: int, **fields: Any) -> PointsEntry:
    """A ledger entry for a movement the unit of work writes (the balance changed on the
    member). Raises PointsBalanceLimit where the balance would outgrow its column (a failed
    commit otherwise, which a retry cannot mend)."""
    if member.points_balance + delta > INTEGER_MAX:
        raise PointsBalanceLimit(
            f"The balance would pass {INTEGER_MAX} points.", balance=member.points_balance
        )
    member.points_balance += delta
    return _ledger_row(member, kind, delta, member.points_balance, **fields)


def _ledger_row(
    member: Member, kind: str, delta: int, balance_after: int, **fields: Any
) -> PointsEntry:
    """Stamped now: the answer that returns an entry is written before the flush that would
    apply the column default."""
    return PointsEntry(
        partner_id=member.partner_id,
        member_id=member.id,
        kind=kind,
        delta=delta,
        balance_after=balance_after,
        created_at=utcnow(),
        **fields,
    )


@dataclass(frozen=True)
class PointsMove:
    """A partner's grant (optionally expiring) or deduction of a member's points."""

    type: Literal["grant", "deduct"]
    amount: int
    reason: str
    expires_at: datetime | None = None


def move_points(
    session: Session, partner_id: str, external_id: str, move: PointsMove
) -> PointsEntry:
    external.refuse_internal_moves(session, partner_id)
    member = find_member(session, partner_id, external_id, for_update=True)
    if move.type == "grant":
        return grant_points(session, member, move.amount, move.reason, move.expires_at)
    return spend_points(session, member, move.amount, move.reason, kind="deduct")


def grant_points(
    session: Session,
    member: Member,
    amount: int,
    reason: str | None,
    expires_at: datetime | None = None,
) -> PointsEntry:
    """`member` must be locked by the caller (find_member(for_update=True))."""
    if amount <= 0:
        raise ValueError("grant amount must be positive")
    lot = PointsLot(
        partner_id=member.partner_id,
        member_id=member.id,
        amount=amount,
        remaining=amount,
        expires_at=expires_at,
    )
    session.add(lot)
    entry = _entry(member, "grant", amount, reason=reason, expires_at=expires_at)
    session.add(entry)
    return entry


def spend_points(
    session: Session,
    member: Member,
    amount: int,
    reason: str | None,
    order_id: str | None = None,
    kind: str = "spend",
    now: datetime | None = None,
) -> PointsEntry:
    """Take `amount` from the lots that expire soonest (never from expired ones), or raise
    InsufficientPoints and take nothing. `member` must be locked by the caller; its lots are
    locked here, after it (the lock order)."""
    if amount <= 0:
        raise ValueError("spend amount must be positive")
    now = now or utcnow()
    lots = session.scalars(_SPENDABLE_LOTS, {"member_id": member.id}).all()
    usable = [lot for lot in lots if lot.expires_at is None or lot.expires_at > now]
    if sum(lot.remaining for lot in usable) < amount:
        raise InsufficientPoints(f"The member has fewer than {amount} usable points.")
    taken: list[list[Any]] = []
    left = amount
    for lot in usable:
        take = min(lot.remaining, left)
        lot.remaining -= take
        taken.append([lot.id, take])
        left -= take
        if left == 0:
            break
    entry = _entry(member, kind, -amount, reason=reason, order_id=order_id, lots=taken)
    session.add(entry)
    return entry


def refund_points(
    session: Session, member: Member, spend: PointsEntry, amount: int, reason: str
) -> PointsEntry:
    """Give back up to `amount` of an order's spend into the lots it came from, latest-expiring
    (and never-expiring) lots first, so what stays spent is what would have expired first.
    Each lot gets back at most what the spend took from it less what earlier refunds of the
    same order gave it, so any number of partial refunds returns exactly what each lot gave and
    never more than a lot was granted. `member` must be locked by the caller (lock_member)."""
    if spend.order_id is None:
        raise ValueError("only an order's spend is refunded")
    refunded: Counter[str] = Counter()
    for lots in session.scalars(
        select(PointsEntry.lots).where(
            PointsEntry.member_id == member.id,
            PointsEntry.kind == "refund",
            PointsEntry.order_id == spend.order_id,
        )
    ):
        refunded.update({lot_id: given for lot_id, given in lots})
    owed = {lot_id: taken - refunded[lot_id] for lot_id, taken in spend.lots}
    lots = session.scalars(
        select(PointsLot)
        .where(PointsLot.id.in_([lot_id for lot_id, left in owed.items() if left > 0]))
        .order_by(PointsLot.id)  # the lock order of lots
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    restore = []
    left = amount
    latest_expiring_first = sorted(
        lots, key=lambda lot: (lot.expires_at is None, lot.expires_at or datetime.min), reverse=True
    )
    for lot in latest_expiring_first:
        give = min(owed[lot.id], left)
        if give == 0:
            break
        session.execute(
            update(PointsLot)
            .where(PointsLot.id == lot.id)
            .values(remaining=PointsLot.remaining + give)
            .execution_options(synchronize_session=False)
        )
        restore.append([lot.id, give])
        left -= give
    entry = _entry(
        member, "refund", amount - left, reason=reason, order_id=spend.order_id, lots=restore
    )
    session.add(entry)
    return entry


def expire_points(
    session: Session, partner_id: str | None = None, now: datetime | None = None
) -> int:
    """Write an `expire` entry for every lot past its expiry with points left. Idempotent:
    an expired lot is emptied, so a second run finds nothing. Returns points expired."""
    now = now or utcnow()
    stmt = (
        select(PointsLot.member_id)
        .where(PointsLot.remaining > 0, PointsLot.expires_at <= now)
        .distinct()
    )
    if partner_id:
        stmt = stmt.where(PointsLot.partner_id == partner_id)
    total = 0
    for member_id in session.scalars(stmt).all():
        member = lock_member(session, member_id)
        lots = session.scalars(
            select(PointsLot)
            .where(
                PointsLot.member_id == member_id,
                PointsLot.remaining > 0,
                PointsLot.expires_at <= now,
            )
            .order_by(PointsLot.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
        for lot in lots:
            session.add(
                _entry(
                    member,
                    "expire",
                    -lot.remaining,
                    reason="points expired",
                    lots=[[lot.id, lot.remaining]],
                )
            )
            total += lot.remaining
            lot.remaining = 0
    return total


def ledger_mismatches(session: Session) -> list[str]:
    """Members whose balance differs from their ledger or their lots, and lots holding more
    than was granted or less than nothing; empty when every points ledger balances."""
    entries = (
        select(PointsEntry.member_id, func.sum(PointsEntry.delta).label("total"))
        .group_by(PointsEntry.member_id)
        .subquery()
    )
    lots = (
        select(PointsLot.member_id, func.sum(PointsLot.remaining).label("total"))
        .group_by(PointsLot.member_id)
        .subquery()
    )
    entries_total = func.coalesce(entries.c.total, 0)
    lots_total = func.coalesce(lots.c.total, 0)
    members = session.execute(
        select(Member.id, Member.points_balance, entries_total, lots_total)
        .outerjoin(entries, entries.c.member_id == Member.id)
        .outerjoin(lots, lots.c.member_id == Member.id)
        .where((Member.points_balance != entries_total) | (Member.points_balance != lots_total))
        .order_by(Member.id)
    ).all()
    bad_lots = session.execute(
        select(PointsLot.id, PointsLot.amount, PointsLot.remaining)
        .where((PointsLot.remaining > PointsLot.amount) | (PointsLot.remaining < 0))
        .order_by(PointsLot.id)
    ).all()
    return [
        f"member {member_id}: balance {balance}, entries {by_entries}, lots {by_lots}"
        for member_id, balance, by_entries, by_lots in members
    ] + [f"lot {lot_id}: remaining {left} of {amount}" for lot_id, amount, left in bad_lots]


def ledger(
    session: Session, partner_id: str, member: Member, limit: int, cursor: str | None
) -> Page[PointsEntry]:
    return paginate(
        session,
        scoped(PointsEntry, partner_id).where(PointsEntry.member_id == member.id),
        PointsEntry.id,
        limit,
        cursor,
    )

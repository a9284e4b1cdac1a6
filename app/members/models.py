"""Members (a partner's end users) and their points: lots (grants, spent soonest-expiring
first) and the ledger. Invariant: balance = sum of ledger deltas = sum of lots' remaining."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.audit import JSONType
from app.core.db import Base, PublicIdMixin, TimestampMixin, utcnow
from app.core.tenancy import PartnerOwnedMixin

MEMBER_STATUSES = ("active", "blocked")
ENTRY_KINDS = ("grant", "deduct", "spend", "refund", "expire")


class Member(PublicIdMixin, PartnerOwnedMixin, TimestampMixin, Base):
    __tablename__ = "members"
    id_prefix = "mem"

    external_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str | None] = mapped_column(String(120))
    tier: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="active")
    # personal data, sealed by the vault (members.service.set_phone): found by its HMAC
    # fingerprint, shown masked (139****5678)
    phone_key_id: Mapped[str | None] = mapped_column(String(40))
    phone_blob: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_fingerprint: Mapped[str | None] = mapped_column(String(64))
    phone_masked: Mapped[str | None] = mapped_column(String(20))
    # where its notifications go by e-mail, sealed the same way (members.service.set_email)
    email_key_id: Mapped[str | None] = mapped_column(String(40))
    email_blob: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    email_masked: Mapped[str | None] = mapped_column(String(260))
    extra: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, default=dict)
    points_balance: Mapped[int] = mapped_column(Integer, default=0)
    # the member's language for notifications (zh_CN, en; None: the partner's default), and
    # whether it wants them at all (an opt-out, from the mall or the partner)
    language: Mapped[str | None] = mapped_column(String(8))
    notifications: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (
        UniqueConstraint("partner_id", "external_id"),
        Index("ix_members_partner_phone", "partner_id", "phone_fingerprint"),
    )


class PointsLot(PublicIdMixin, PartnerOwnedMixin, Base):
    """One grant of points; `remaining` shrinks as they are spent or expire."""

    __tablename__ = "points_lots"
    id_prefix = "plt"

    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    amount: Mapped[int] = mapped_column(Integer)
    remaining: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_points_lots_member_open", "member_id", "remaining", "expires_at"),)


class PointsEntry(PublicIdMixin, PartnerOwnedMixin, Base):
    __tablename__ = "points_entries"
    id_prefix = "pte"

    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    kind: Mapped[str] = mapped_column(String(16))
    delta: Mapped[int] = mapped_column(Integer)
    balance_after: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(200))
    order_id: Mapped[str | None] = mapped_column(String(40))
    # [[lot_id, points], …] taken by a spend/deduct, so a refund restores the same lots.
    lots: Mapped[list[list[Any]]] = mapped_column(JSONType, default=list)
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_points_entries_member_id_id", "member_id", "id"),)


ADJUSTMENT_STATUSES = ("pending", "applied", "rejected")


class PointsAdjustment(PublicIdMixin, PartnerOwnedMixin, Base):
    """A staff member's grant or deduction of a member's points (maker); above the partner's
    threshold it waits for a second staff member's approval (checker) before it moves any
    points."""

    __tablename__ = "points_adjustments"
    id_prefix = "adj"

    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"), index=True)
    delta: Mapped[int] = mapped_column(Integer)  # + grant, - deduction
    reason: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    requested_by: Mapped[str] = mapped_column(String(80))
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[datetime | None]
    entry_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


GRANT_BATCH_STATUSES = (
    "invalid",  # some rows are wrong: nothing can be applied; upload a fixed file
    "awaiting_approval",  # above the partner's threshold: a second staff member approves
    "ready",  # valid, not yet applied
    "queued",  # the apply job is on its way
    "applied",  # every row granted, in one transaction
    "failed",  # the apply job found a problem: nothing was granted
    "rejected",
)


class PointsGrantBatch(PublicIdMixin, PartnerOwnedMixin, Base):
    """A CSV of points grants (`external_id,amount,expires_at,reason`), validated whole before
    anything moves, applied all or nothing by a job, once per file (its SHA-256 is unique per
    partner: the same file uploaded again is this batch again)."""

    __tablename__ = "points_grant_batches"
    id_prefix = "pgb"

    file_sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    row_count: Mapped[int] = mapped_column(Integer)
    total_points: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    applied_rows: Mapped[int] = mapped_column(Integer, default=0)
    failure: Mapped[str | None] = mapped_column(String(500))
    requested_by: Mapped[str] = mapped_column(String(80))
    approved_by: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    applied_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("partner_id", "file_sha256"),)


EXTERNAL_MOVE_KINDS = ("deduct", "refund")
EXTERNAL_MOVE_STATUSES = (
    "pending",  # sent or to be sent; its outcome is not known yet (the sweep resolves it)
    "done",  # the partner's ledger applied it
    "void",  # never applied: the partner never received it or refused it (a deduct only)
)


class ExternalPointsMove(PublicIdMixin, PartnerOwnedMixin, TimestampMixin, Base):
    """A deduction or refund of a member's points in the partner's own ledger (points source
    `external`). The id is the request id the partner's service is idempotent on, so a retry
    or a status query names the same move. A deduct that is `done` with no order behind it (the
    checkout failed after the partner deducted) is refunded by a refund move of its own."""

    __tablename__ = "external_points_moves"
    id_prefix = "xpm"

    member_id: Mapped[str] = mapped_column(ForeignKey("members.id"))
    order_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(8))
    amount: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(8), default="pending")
    reason: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None]

    member: Mapped[Member] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (
        Index("ix_external_points_moves_partner_order", "partner_id", "order_id"),
        Index("ix_external_points_moves_due", "status", "next_attempt_at"),
        Index("ix_external_points_moves_partner_created", "partner_id", "created_at"),
    )

    @property
    def delta(self) -> int:
        """The move as the member's balance sees it."""
        return -self.amount if self.kind == "deduct" else self.amount

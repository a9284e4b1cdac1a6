"""The audit log: who changed what, when, from what to what.

Values passed here must already be safe to store: callers pass masked codes and never secrets.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.core.db import Base, PublicIdMixin, utcnow
from app.core.pagination import Page, paginate

JSONType = JSON().with_variant(JSONB(), "postgresql")


@dataclass(frozen=True)
class Actor:
    """Who acts: an API client, a staff user, a CLI operator or the system itself."""

    kind: str  # client | staff | cli | system
    id: str
    ip: str | None = None
    request_id: str | None = None


SYSTEM = Actor("system", "system")


class AuditLog(PublicIdMixin, Base):
    __tablename__ = "audit_log"
    id_prefix = "aud"

    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(80))
    partner_id: Mapped[str | None] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(80))
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str] = mapped_column(String(80))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    ip: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (
        Index("ix_audit_log_partner_time", "partner_id", "occurred_at"),
        Index("ix_audit_log_target", "target_type", "target_id"),
    )


def record_audit(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str,
    **details: Any,
) -> AuditLog:
    """Add an audit row to the caller's transaction, so it commits or rolls back with the change.
    `details`: audit_row's partner_id, before and after."""
    row = audit_row(actor, action, target_type, target_id, **details)
    session.add(row)
    return row


def audit_row(
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str,
    *,
    partner_id: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditLog:
    """The row record_audit writes."""
    return AuditLog(
        actor_kind=actor.kind,
        actor_id=actor.id,
        partner_id=partner_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=after,
        ip=actor.ip,
        request_id=actor.request_id,
    )


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def record_changes(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str,
    before: dict[str, Any],
    after: dict[str, Any],
    *,
    partner_id: str | None = None,
) -> list[str]:
    """Audit an update with only the fields it changed; nothing is written when nothing
    changed. Returns the changed field names."""
    changed = changed_fields(before, after)
    if changed:
        record_audit(
            session,
            actor,
            action,
            target_type,
            target_id,
            partner_id=partner_id,
            before={k: before.get(k) for k in changed},
            after={k: after.get(k) for k in changed},
        )
    return changed


def audit_trail(session: Session, target_ids: list[str], partner_id: str | None) -> list[AuditLog]:
    """What happened to these rows, oldest first (an order's timeline: the order, its
    deliveries and entitlements). A partner's view shows its own rows only."""
    stmt = select(AuditLog).where(AuditLog.target_id.in_(target_ids))
    if partner_id is not None:
        stmt = stmt.where(AuditLog.partner_id == partner_id)
    return list(session.scalars(stmt.order_by(AuditLog.occurred_at, AuditLog.id)))


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None  # an action, or a prefix ending in "." ("order.")
    actor_id: str | None = None
    target_id: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None  # exclusive


def audit_query(partner_id: str, where: AuditFilter) -> Any:
    """The partner's audit rows matching `where` (newest first when paged by id)."""
    stmt = select(AuditLog).where(AuditLog.partner_id == partner_id)
    if where.action:
        stmt = stmt.where(
            AuditLog.action.startswith(where.action, autoescape=True)
            if where.action.endswith(".")
            else AuditLog.action == where.action
        )
    if where.actor_id:
        stmt = stmt.where(AuditLog.actor_id == where.actor_id)
    if where.target_id:
        stmt = stmt.where(AuditLog.target_id == where.target_id)
    if where.occurred_from:
        stmt = stmt.where(AuditLog.occurred_at >= where.occurred_from)
    if where.occurred_to:
        stmt = stmt.where(AuditLog.occurred_at < where.occurred_to)
    return stmt


def list_audit(
    session: Session, partner_id: str, where: AuditFilter, limit: int, cursor: str | None
) -> Page[AuditLog]:
    return paginate(session, audit_query(partner_id, where), AuditLog.id, limit, cursor)


def audit_rows(session: Session, partner_id: str, where: AuditFilter, most: int) -> list[AuditLog]:
    """Up to `most` rows, newest first (an export)."""
    stmt = audit_query(partner_id, where).order_by(AuditLog.id.desc()).limit(most)
    return list(session.scalars(stmt))


AUDIT_CSV_COLUMNS = (
    "id", "occurred_at", "actor_kind", "actor_id", "action", "target_type", "target_id",
    "before", "after", "ip", "request_id",
)  # fmt: skip


def audit_csv(rows: list[AuditLog]) -> str:
    """Excel-friendly: a byte-order mark, one row per action, before/after as JSON."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(AUDIT_CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row.id,
                row.occurred_at.isoformat(),
                row.actor_kind,
                row.actor_id,
                row.action,
                row.target_type,
                row.target_id,
                json.dumps(row.before, ensure_ascii=False) if row.before is not None else "",
                json.dumps(row.after, ensure_ascii=False) if row.after is not None else "",
                row.ip or "",
                row.request_id or "",
            ]
        )
    return out.getvalue()
